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
    "alert.digest_mode": "0",
    "request.ui_dispatch_app": "search", "action.risk": "0", "action.notable": "0",
    "action.correlationsearch.detection_type": "ebd",
}
PRESENT = ("description", "search", "cron_schedule", "dispatch.earliest_time", "dispatch.latest_time",
           "dispatch.index_latest", "allow_skew", "alert.severity", "alert.suppress",
           "action.risk.param._risk", "action.risk.param._risk_message", "action.notable.param.rule_title",
           "action.notable.param.rule_description", "action.notable.param.security_domain",
           "action.notable.param.severity", "action.correlationsearch.label",
           "action.correlationsearch.annotations")


def test_one_alert_per_detection_with_every_required_setting(confs, detections):
    from harness.splunk import baselinesearch
    conf = parse(confs["savedsearches"])
    # an alert per detection, and a baseline search per new_terms detection
    assert sorted(conf) == sorted([appbuild.stanza_name(d) for d in detections] + [
        baselinesearch.baseline_stanza_name(d) for d in detections if baselinesearch.is_new_terms(d)])
    for det in detections:
        stanza = conf["AWS Sign-In - %s - Rule" % det.id]
        for key, value in REQUIRED.items():
            assert stanza.get(key) == value, (det.id, key)
        for key in PRESENT:
            assert stanza.get(key), (det.id, key)
        assert stanza["search"] == appbuild.saved_search_text(det)
        # building blocks feed correlation and risk; they never page
        assert stanza["alert.track"] == ("0" if det.data.get("building_block") else "1"), det.id
        # the title is what people read: description, ES label, notable title
        title = det.data["title"]
        assert stanza["description"].startswith("AWS Sign-In - %s: " % title), det.id
        assert stanza["action.correlationsearch.label"] == "AWS Sign-In - " + title
        assert stanza["action.notable.param.rule_title"].startswith(title + " (")
        assert stanza["alert.severity"] == str(appbuild.ALERT_SEVERITY[det.data["severity"]])
        assert stanza["action.notable.param.severity"] == det.data["severity"]


def test_search_is_data_macro_base_search_command_filter(detections):
    det = detections[0]
    text = appbuild.saved_search_text(det)
    option = " indexed_within=10m" if det.data["logic"].get("window") else ""
    assert text == "`aws_signin_cloudtrail` %s | awssignin detection=%s%s | `%s_filter`" % (
        det.data["splunk"]["search"].strip(), det.id, option, det.id)


def test_stanza_names_follow_the_id_not_the_title(detections):
    det = detections[0]
    renamed = variant(det, title="A completely new title")
    assert appbuild.stanza_name(renamed) == appbuild.stanza_name(det) == "AWS Sign-In - %s - Rule" % det.id
    assert appbuild.old_stanza_name(renamed) == "AWS Sign-In - A completely new title"


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
    with pytest.raises(DetectionError, match=r"title.*one line"):
        appbuild.display_title(variant(det, title="Root login\nsecond line"))
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


WINDOWS = [0, 30, 90, 5 * 60, 15 * 60, 60 * 60, 61 * 60, 3 * 3600, 6 * 3600, 6 * 3600 + 60, 86400, 7 * 86400]
NOWS = [1772445600 + k * 600 + skew for k in range(-3, 4) for skew in (0, 59, 97)]  # 2026-03-02, on and off the minute


def _bounds(sched, now):
    r = appbuild.resolve_relative
    return (r(sched.earliest, now), r(sched.latest, now),
            r(sched.index_earliest, now) if sched.index_earliest else None, r(sched.index_latest, now))


@pytest.mark.parametrize("window", WINDOWS)
def test_derived_schedule_reads_every_event_indexed_within_the_budget(window):
    """Independent arithmetic over the resolved ranges (the scheduler model test runs the detections)."""
    sched = appbuild.derive_schedule(window)
    interval, late = sched.interval, appbuild.LATENESS
    assert appbuild.cron_max_gap(sched.cron) == interval and sched.lateness == late
    for now in NOWS:
        earliest, latest, index_earliest, index_latest = _bounds(sched, now)
        prev = _bounds(sched, now - interval)
        assert index_latest <= now - appbuild.SEARCHABLE_DELAY
        if window == 0:
            assert prev[3] == index_earliest  # index slices meet: each event read by exactly one run
            assert earliest <= index_earliest - late and sched.latest == "now"
        else:
            assert latest == index_latest and sched.indexed_within == appbuild._duration_text(interval)
            # an event indexed in this run's slice happened at or after slice start - budget; its burst
            # partners lie within the window of it
            assert earliest <= index_latest - interval - late - window


@pytest.mark.parametrize("window", [0, 15 * 60, 3 * 3600])
def test_one_minute_less_of_range_misses_a_late_event(window):
    """The derivation is tight: the check above could fail."""
    sched = appbuild.derive_schedule(window)
    shorter = sched._replace(earliest="-%dm@m" % (_minutes_ago(sched.earliest) - 1))
    earliest, _, index_earliest, index_latest = _bounds(shorter, NOWS[0])
    first_indexed = index_earliest if window == 0 else index_latest - sched.interval
    assert earliest > first_indexed - appbuild.LATENESS - window


def test_schedule_follows_the_window():
    assert appbuild.derive_schedule(0)[:5] == ("*/10 * * * *", "-75m@m", "now", "-15m@m", "-5m@m")
    assert appbuild.derive_schedule(15 * 60)[:5] == ("*/10 * * * *", "-90m@m", "-5m@m", None, "-5m@m")
    assert appbuild.derive_schedule(2 * 3600)[:5] == ("*/30 * * * *", "-215m@m", "-5m@m", None, "-5m@m")
    assert appbuild.derive_schedule(86400)[:5] == ("0 * * * *", "-1565m@m", "-5m@m", None, "-5m@m")
    assert appbuild.derive_schedule(15 * 60).indexed_within == "10m"
    assert appbuild.derive_schedule(0, lateness=2 * 3600).earliest == "-135m@m"  # the budget is one constant


def test_shipped_schedules_follow_the_derivation(confs, detections):
    conf = parse(confs["savedsearches"])
    for det in detections:
        stanza = conf[appbuild.stanza_name(det)]
        # a new_terms alert runs every 10 minutes over what its baseline has not absorbed yet
        new_terms = det.data["logic"]["type"] == "new_terms"
        sched = appbuild.derive_schedule(appbuild.window_seconds(det), interval=600 if new_terms else None)
        assert (stanza["cron_schedule"], stanza["dispatch.earliest_time"], stanza["dispatch.latest_time"],
                stanza.get("dispatch.index_earliest"), stanza["dispatch.index_latest"]) == sched[:5], det.id
        assert ("indexed_within=%s " % sched.indexed_within in stanza["search"]) == bool(sched.window), det.id
        runs_per_hour = len([m for m in appbuild.cron_minutes(stanza["cron_schedule"]) if m < 60])
        assert runs_per_hour <= 12  # AppInspect warns above 12 runs an hour


def test_schedule_overrides_are_honoured_and_checked(detections):
    det = by_type(detections, "threshold")
    window = appbuild.window_seconds(det)
    cron_only = appbuild.schedule(variant(det, splunk__cron="*/20 * * * *"))
    assert cron_only.cron == "*/20 * * * *" and cron_only.interval == 1200 and cron_only.indexed_within == "20m"
    assert _minutes_ago(cron_only.earliest) * 60 == appbuild.SEARCHABLE_DELAY + 1200 + window + appbuild.LATENESS
    with pytest.raises(DetectionError, match=r"splunk\.earliest.*lateness budget"):
        appbuild.schedule(variant(det, splunk__earliest="-2h@m"))
    with pytest.raises(DetectionError, match=r"splunk\.latest.*lateness budget"):
        appbuild.schedule(variant(det, splunk__latest="-10m@m"))
    with pytest.raises(DetectionError, match=r"splunk\.cron.*every day"):
        appbuild.schedule(variant(det, splunk__cron="0 * * * 1-5"))
    with pytest.raises(DetectionError, match=r"splunk\.cron.*irregular"):
        appbuild.schedule(variant(det, splunk__cron="0,10 * * * *"))


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


# --- Enterprise Security profile -------------------------------------------------------------------

def test_es_profile_turns_on_risk_and_notable_for_every_alert_and_nothing_else(confs, detections):
    """dist/awssignin-es-profile-savedsearches.conf, layered over default/ as local/ is (key by key),
    turns both ES actions on for every shipped stanza and leaves every other setting as shipped."""
    default = parse(confs["savedsearches"])
    profile = parse(appbuild.es_profile_conf(detections))
    # every alert; a new_terms detection's baseline search is no detection and has no ES actions
    default = dict((name, stanza) for name, stanza in default.items() if name.endswith(" - Rule"))
    assert sorted(profile) == sorted(default)
    for name, stanza in default.items():
        merged = dict(stanza)
        merged.update(profile[name])
        assert (merged["action.risk"], merged["action.notable"]) == ("1", "1"), name
        assert {k: v for k, v in merged.items() if k not in ("action.risk", "action.notable")} == \
            {k: v for k, v in stanza.items() if k not in ("action.risk", "action.notable")}
        assert stanza["action.correlationsearch.detection_type"] == "ebd"


def test_es_profile_is_written_to_dist_not_into_the_app(tmp_path, detections):
    from harness.project import Layout
    layout = Layout(ROOT)
    layout.dist = tmp_path
    written = appbuild.splunk_es_profile(layout, detections)
    assert [p.name for p in written] == [appbuild.ES_PROFILE]
    assert written[0].read_text(encoding="utf-8") == appbuild.es_profile_conf(detections)
    assert not (ROOT / "addon" / "default" / appbuild.ES_PROFILE).exists()


def test_saved_searches_run_iplocation_exactly_when_the_logic_reads_the_country(detections):
    from harness import geoip
    for det in detections:
        text = appbuild.saved_search_text(det)
        assert ("| iplocation sourceIPAddress |" in text) == geoip.detection_needs_geo(det), det.id
        # the enrichment comes before the command, whose required fields hold what it adds
        if geoip.detection_needs_geo(det):
            assert text.index("iplocation") < text.index("| awssignin ")
