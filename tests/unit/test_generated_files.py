"""Generated files that ship in the checkout must match the detection files (`awssignin build`)."""

from harness.build import generated_files, stale_files


def test_committed_generated_files_are_up_to_date(layout):
    stale = stale_files(layout)
    assert stale == [], "run `awssignin build` and commit: %s" % ", ".join(str(p) for p in stale)


def test_a_changed_threshold_makes_the_engine_table_stale(layout, tmp_path):
    from harness.detections import load_all

    dets = load_all(layout.detections)
    brute = [d for d in dets if d.id == "root_console_brute_force"][0]
    brute.data["logic"]["threshold"] = 6
    table = generated_files(layout, dets)[layout.engine_table]
    assert '"threshold": 6' in table
    assert table != layout.engine_table.read_text(encoding="utf-8")
