"""The Splunk app built from the detection files: confs as Splunk reads them, schedules that leave no
burst between two runs, the version, and a clean, reproducible package."""

import configparser
import copy
import io
import re
import tarfile

from pathlib import Path

import pytest
from ksconf.conf.parser import DUP_EXCEPTION, GLOBAL_STANZA, parse_conf

from harness.detections import DetectionError, DetectionFile, load_all
from harness.splunk import appbuild

ROOT = Path(__file__).resolve().parents[2]
STRICT = {"keep_comments": False, "dup_stanza": DUP_EXCEPTION, "dup_key": DUP_EXCEPTION, "strict": True}
MACRO_CALL = re.compile(r"`([^`(]+)(?:\([^`]*\))?`")


def parse(text):
    conf = parse_conf(io.StringIO(text), profile=STRICT)
    conf.pop(GLOBAL_STANZA, None)
    return conf


@pytest.fixture(scope="module")
def detections():
    from harness.project import Layout
    return load_all(Layout(ROOT).detections)


@pytest.fixture(scope="module")
def confs(detections):
    from harness.project import Layout
    layout = Layout(ROOT)
    out = appbuild.splunk_confs(layout, detections)
    paths = appbuild.conf_paths(layout)
    return dict((name, out[path]) for name, path in paths.items())


def variant(det, **changes):
    """A copy of a detection with some fields changed (dotted keys: splunk.cron)."""
    data = copy.deepcopy(det.data)
    for key, value in changes.items():
        node = data
        parts = key.split("__")
        for part in parts[:-1]:
            node = node[part]
        if value is None:
            node.pop(parts[-1], None)
        else:
            node[parts[-1]] = value
    return DetectionFile(det.path, data, det.lines)


def by_type(detections, kind):
    for det in detections:
        if det.data["logic"]["type"] == kind:
            return det
    pytest.skip("no %s detection in detections/" % kind)


# --- savedsearches.conf ---------------------------------------------------------------------------

REQUIRED = {
    "enableSched": "1", "disabled": "1", "schedule_window": "auto", "realtime_schedule": "0",
    "counttype": "number of events", "relation": "greater than", "quantity": "0",
    "alert.digest_mode": "0", "alert.suppress": "1",
    "request.ui_dispatch_app": "search", "action.risk": "0", "action.notable": "0",
}
PRESENT = ("description", "search", "cron_schedule", "dispatch.earliest_time", "dispatch.latest_time",
           "allow_skew", "alert.severity", "alert.suppress.fields", "alert.suppress.period",
           "action.risk.param._risk", "action.risk.param._risk_message", "action.notable.param.rule_title",
           "action.notable.param.rule_description", "action.notable.param.security_domain",
           "action.notable.param.severity", "action.correlationsearch.label",
           "action.correlationsearch.annotations")


def test_one_alert_per_detection_with_every_required_setting(confs, detections):
    conf = parse(confs["savedsearches"])
    assert sorted(conf) == sorted(appbuild.stanza_name(d) for d in detections)
    for det in detections:
        stanza = conf["AWS Sign-In - " + det.data["title"]]
        for key, value in REQUIRED.items():
            assert stanza.get(key) == value, (det.id, key)
        for key in PRESENT:
            assert stanza.get(key), (det.id, key)
        assert stanza["search"] == appbuild.saved_search_text(det)
        # building blocks feed correlation and risk; they never page
        assert stanza["alert.track"] == ("0" if det.data.get("building_block") else "1"), det.id
        assert stanza["alert.suppress.fields"] == ",".join("group_" + g for g in det.data["logic"]["group_by"])
        assert stanza["alert.severity"] == str(appbuild.ALERT_SEVERITY[det.data["severity"]])
        assert stanza["action.notable.param.severity"] == det.data["severity"]


def test_search_is_data_macro_base_search_command_filter(detections):
    det = detections[0]
    text = appbuild.saved_search_text(det)
    assert text == "`aws_signin_cloudtrail` %s | awssignin detection=%s | `%s_filter`" % (
        det.data["splunk"]["search"].strip(), det.id, det.id)


def test_es_risk_objects_name_the_command_group_fields(confs, detections):
    import json
    conf = parse(confs["savedsearches"])
    for det in detections:
        stanza = conf[appbuild.stanza_name(det)]
        risk = json.loads(stanza["action.risk.param._risk"])
        fields = [r.get("risk_object_field") or r.get("threat_object_field") for r in risk]
        assert sorted(fields) == sorted("group_" + g for g in det.data["logic"]["group_by"])
        scored = [r for r in risk if "risk_object_field" in r]
        assert scored and all(r["risk_score"] == det.data["risk_score"] for r in scored)
        annotations = json.loads(stanza["action.correlationsearch.annotations"])
        assert annotations["mitre_attack"] == [m["technique"] for m in det.data["mitre"]]
        for name in det.data["logic"]["group_by"]:
            assert "$group_%s$" % name in stanza["action.risk.param._risk_message"]


def test_committed_confs_are_up_to_date(confs):
    from harness.project import Layout
    for name, path in appbuild.conf_paths(Layout(ROOT)).items():
        assert path.read_text(encoding="utf-8") == confs[name], "%s is stale: run `awssignin build`" % path


def test_generation_is_deterministic_and_works_for_any_number_of_detections(detections):
    assert appbuild.savedsearches_conf(detections) == appbuild.savedsearches_conf(list(reversed(detections)))
    assert parse(appbuild.savedsearches_conf([])) == {}
    assert list(parse(appbuild.savedsearches_conf(detections[:1]))) == [appbuild.stanza_name(detections[0])]
    assert list(parse(appbuild.macros_conf(detections[:1]))) == ["aws_signin_cloudtrail", detections[0].id + "_filter"]


def test_multiline_search_round_trips_through_the_conf_parser(detections):
    det = variant(detections[0], splunk__search='eventSource="signin.amazonaws.com"\n  eventName="ConsoleLogin"  ')
    text = appbuild.saved_search_text(det)
    assert "\n" in text
    conf = parse(appbuild.savedsearches_conf([det]))
    assert conf[appbuild.stanza_name(det)]["search"] == text
    assert "\\\n" in appbuild.savedsearches_conf([det])  # continued with a trailing backslash


def test_bad_detections_are_refused_naming_the_field(detections):
    det = detections[0]
    with pytest.raises(DetectionError, match=r"title.*bracket"):
        appbuild.stanza_name(variant(det, title="Root login [test]"))
    with pytest.raises(DetectionError, match=r"splunk\.override\.search.*base search"):
        appbuild.saved_search_text(variant(det, splunk__search='eventName="X" | awssignin detection=x'))
    with pytest.raises(DetectionError, match=r"splunk\.override\.search.*backslash"):
        appbuild.saved_search_text(variant(det, splunk__search='eventName="X" \\\nb=1'))
    twin = variant(detections[-1], title=det.data["title"])
    if twin.id != det.id:
        with pytest.raises(DetectionError, match="title"):
            appbuild.savedsearches_conf([det, twin])


# --- schedules ------------------------------------------------------------------------------------

def _minutes_ago(modifier):
    m = re.match(r"^-(\d+)m@m$", modifier)
    assert m, modifier
    return int(m.group(1))


def covered(sched, window, start):
    """Independent check: is a burst [start, start + window] inside one run's [earliest, latest)?
    Runs are minute-aligned every ``interval`` seconds; start is seconds from a run."""
    e_ago, l_ago = _minutes_ago(sched.earliest) * 60, _minutes_ago(sched.latest) * 60
    for k in range(-200, 200):
        now = k * sched.interval
        if now - e_ago <= start and start + window < now - l_ago:
            return True
    return False


WINDOWS = [0, 30, 90, 5 * 60, 15 * 60, 60 * 60, 61 * 60, 3 * 3600, 6 * 3600, 6 * 3600 + 60, 86400, 7 * 86400]


@pytest.mark.parametrize("window", WINDOWS)
def test_derived_schedule_leaves_no_burst_between_two_runs(window):
    sched = appbuild.derive_schedule(window)
    assert appbuild.cron_max_gap(sched.cron) == sched.interval
    # bursts starting anywhere over two run intervals, on and off the second and minute
    for start in [i * 7.3 for i in range(int(2 * sched.interval / 7.3))] + [0.0, 59.999, sched.interval - 0.001]:
        assert covered(sched, window, start), (window, sched, start)
    assert appbuild.first_uncovered(sched.cron, sched.earliest, sched.latest, window) is None
    assert _minutes_ago(sched.latest) * 60 == appbuild.INDEXING_LAG
    period = appbuild._duration_text(sched.span + sched.interval)
    assert sched.suppress_period == period and sched.span >= window + sched.interval


@pytest.mark.parametrize("window", WINDOWS)
def test_one_minute_less_of_range_misses_a_burst(window):
    """The derivation is tight: the checks above could fail."""
    sched = appbuild.derive_schedule(window)
    if window % 60:
        return  # window rounded up to the minute: a minute less may still cover it
    shorter = sched._replace(earliest="-%dm@m" % (_minutes_ago(sched.earliest) - 1))
    assert not all(covered(shorter, window, s) for s in range(0, 2 * sched.interval, 10))
    assert appbuild.first_uncovered(shorter.cron, shorter.earliest, shorter.latest, window) is not None


def test_schedule_follows_the_window():
    assert appbuild.derive_schedule(0)[:3] == ("*/10 * * * *", "-20m@m", "-10m@m")
    assert appbuild.derive_schedule(15 * 60)[:3] == ("*/10 * * * *", "-35m@m", "-10m@m")
    assert appbuild.derive_schedule(2 * 3600)[:3] == ("*/30 * * * *", "-160m@m", "-10m@m")
    assert appbuild.derive_schedule(86400)[:3] == ("0 * * * *", "-1510m@m", "-10m@m")
    assert appbuild.derive_schedule(15 * 60).suppress_period == "35m"


def test_shipped_schedules_cover_each_detections_window(confs, detections):
    conf = parse(confs["savedsearches"])
    for det in detections:
        stanza = conf[appbuild.stanza_name(det)]
        window = appbuild.window_seconds(det)
        assert appbuild.first_uncovered(stanza["cron_schedule"], stanza["dispatch.earliest_time"],
                                        stanza["dispatch.latest_time"], window) is None, det.id
        runs_per_hour = len([m for m in appbuild.cron_minutes(stanza["cron_schedule"]) if m < 60])
        assert runs_per_hour <= 12  # AppInspect warns above 12 runs an hour


def test_schedule_overrides_are_honoured_and_checked(detections):
    det = by_type(detections, "threshold")
    window = appbuild.window_seconds(det)
    cron_only = appbuild.schedule(variant(det, splunk__cron="*/20 * * * *"))
    assert cron_only.cron == "*/20 * * * *" and cron_only.interval == 1200
    assert _minutes_ago(cron_only.earliest) * 60 == appbuild.INDEXING_LAG + 1200 + window
    wide = "-%dm@m" % ((appbuild.INDEXING_LAG + 600 + window) // 60 + 30)
    explicit = appbuild.schedule(variant(det, splunk__earliest=wide, splunk__latest="-10m@m"))
    assert explicit.earliest == wide and explicit.latest == "-10m@m"
    too_short = "-%dm@m" % ((appbuild.INDEXING_LAG + window) // 60)
    with pytest.raises(DetectionError, match=r"splunk\.earliest.*outside every run"):
        appbuild.schedule(variant(det, splunk__earliest=too_short))
    with pytest.raises(DetectionError, match=r"splunk\.cron.*every day"):
        appbuild.schedule(variant(det, splunk__cron="0 * * * 1-5"))
    with pytest.raises(DetectionError, match=r"splunk\.latest.*relative time"):
        appbuild.schedule(variant(det, splunk__latest="yesterday"))
    # an hourly run snapped to the hour still covers the window when the range is long enough
    assert appbuild.first_uncovered("5 * * * *", "-2h@h", "-10m@m", 15 * 60) is None
    assert appbuild.first_uncovered("5 * * * *", "-1h@h", "@h", 15 * 60) is not None


def test_cron_reading():
    assert appbuild.cron_minutes("*/10 * * * *")[:3] == [0, 10, 20]
    assert appbuild.cron_minutes("5/15 1 * * *") == [65, 80, 95, 110]
    assert appbuild.cron_max_gap("0,30 8-17 * * *") == (24 - 17 + 8) * 3600 - 30 * 60
    for bad in ("* * * *", "61 * * * *", "a * * * *", "*/0 * * * *"):
        with pytest.raises(ValueError):
            appbuild.cron_minutes(bad)


# --- macros.conf ----------------------------------------------------------------------------------

def test_macros_define_the_data_macro_and_every_macro_a_search_calls(confs, detections):
    macros = parse(confs["macros"])
    assert macros["aws_signin_cloudtrail"]["definition"] == "sourcetype=aws:cloudtrail"
    searches = parse(confs["savedsearches"])
    called = set()
    for stanza in searches.values():
        called.update(MACRO_CALL.findall(stanza["search"]))
    assert called == {"aws_signin_cloudtrail"} | {d.id + "_filter" for d in detections}
    for name in called:
        assert macros[name]["definition"], name
        assert macros[name]["description"], name
    for det in detections:
        assert macros[det.id + "_filter"]["definition"] == "search *"


# --- app.conf and the static confs ----------------------------------------------------------------

def test_app_version_follows_the_project_version(confs, layout):
    import awssignin
    cfg = configparser.ConfigParser()
    cfg.read(str(layout.root / "setup.cfg"))
    version = cfg["metadata"]["version"]
    app = parse(confs["app"])
    assert app["id"]["version"] == app["launcher"]["version"] == version == awssignin.__version__
    assert app["package"]["id"] == app["id"]["name"] == appbuild.APP_ID
    assert app["package"]["check_for_updates"] == "false"
    assert app["install"]["is_configured"] == "false"
    assert "triggers" not in app
    assert 5 <= len(app["ui"]["label"]) <= 80


def test_version_mismatch_and_non_semver_are_refused(tmp_path):
    from harness.project import Layout
    (tmp_path / "detections").mkdir()
    init = tmp_path / "addon" / "lib" / "awssignin" / "__init__.py"
    init.parent.mkdir(parents=True)
    init.write_text('__version__ = "1.2.3"\n')
    (tmp_path / "setup.cfg").write_text("[metadata]\nversion = 1.2.4\n")
    with pytest.raises(appbuild.AppBuildError, match="1.2.4.*1.2.3"):
        appbuild.project_version(Layout(tmp_path))
    (tmp_path / "setup.cfg").write_text("[metadata]\nversion = 1.2.3\n")
    assert appbuild.project_version(Layout(tmp_path)) == "1.2.3"
    init.write_text('__version__ = "1.3.0rc1"\n')
    (tmp_path / "setup.cfg").write_text("[metadata]\nversion = 1.3.0rc1\n")
    with pytest.raises(appbuild.AppBuildError, match="MAJOR.MINOR.PATCH"):
        appbuild.project_version(Layout(tmp_path))


def test_static_confs(layout):
    commands = parse_conf(str(layout.addon / "default" / "commands.conf"), profile=STRICT)
    cmd = commands["awssignin"]
    assert cmd["filename"] == "awssignin.py" and cmd["chunked"] == "true"
    assert "3.13" in cmd["python.required"].split(",")
    bnf = parse_conf(str(layout.addon / "default" / "searchbnf.conf"), profile=STRICT)
    assert bnf["awssignin-command"]["syntax"].startswith("awssignin detection=")
    assert bnf["awssignin-command"]["usage"] == "public"
    meta = parse_conf(str(layout.addon / "metadata" / "default.meta"), profile=STRICT)
    assert "write : [ admin" in meta[""]["access"]
    for kind in ("commands", "macros", "savedsearches"):
        assert meta[kind]["export"] == "system"


# --- the package ----------------------------------------------------------------------------------

def test_package_excludes_local_settings_bytecode_and_hidden_files(tmp_path):
    addon = tmp_path / "addon"
    for rel in ("default/app.conf", "local/app.conf", "metadata/default.meta", "metadata/local.meta",
                "bin/awssignin.py", "bin/__pycache__/awssignin.cpython-39.pyc", "lib/x/mod.pyc",
                "lib/x/mod.py", ".DS_Store", "lib/x/.hidden", "lib/local/kept.py"):
        (addon / rel).parent.mkdir(parents=True, exist_ok=True)
        (addon / rel).write_text("x")
    files = appbuild.package_files(addon, {"default/macros.conf": "[m]\n"})
    assert sorted(files) == ["bin/awssignin.py", "default/app.conf", "default/macros.conf",
                             "lib/local/kept.py", "lib/x/mod.py", "metadata/default.meta"]


@pytest.fixture(scope="module")
def packages(detections, tmp_path_factory):
    from harness.project import Layout
    layout = Layout(ROOT)
    first = appbuild.build_package(layout, detections, tmp_path_factory.mktemp("dist1"))
    second = appbuild.build_package(layout, detections, tmp_path_factory.mktemp("dist2"))
    return first, second


def test_package_is_reproducible(packages):
    first, second = packages
    assert first != second and first.read_bytes() == second.read_bytes()


def test_package_contents(packages, confs, layout):
    path = packages[0]
    assert path.name == "awssignin-%s.tgz" % appbuild.project_version(layout)
    with tarfile.open(str(path), "r:gz") as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        assert names == sorted(names, key=lambda n: n.split("/"))
        assert all(n == "awssignin" or n.startswith("awssignin/") for n in names)
        files = set(n[len("awssignin/"):] for n in names if n != "awssignin")
        for required in ("README.md", "bin/awssignin.py", "default/app.conf", "default/commands.conf",
                         "default/searchbnf.conf", "default/savedsearches.conf", "default/macros.conf",
                         "metadata/default.meta", "lib/awssignin/__init__.py", "lib/awssignin/detections.json",
                         "lib/splunklib/__init__.py", "lib/splunklib/searchcommands/__init__.py"):
            assert required in files, required
        for name in files:
            assert not name.startswith("local/") and name != "metadata/local.meta"
            assert "__pycache__" not in name and not name.endswith(".pyc")
            assert not any(part.startswith(".") for part in name.split("/"))
        for m in members:
            assert (m.uid, m.gid, m.mtime) == (0, 0, appbuild.PACKAGE_MTIME)
            if m.isdir():
                assert m.mode == 0o755
            else:
                assert m.isfile() and m.mode == (0o755 if m.name.startswith("awssignin/bin/") else 0o644)
        shipped = tar.extractfile("awssignin/default/savedsearches.conf").read().decode("utf-8")
        assert shipped == confs["savedsearches"]
        app = parse(tar.extractfile("awssignin/default/app.conf").read().decode("utf-8"))
        assert app["package"]["id"] == "awssignin"
