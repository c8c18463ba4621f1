"""Splunk AppInspect (4.3.1, offline) on the built package: no failure, no error, no future failure, and
only the warnings listed below, each for the reason given."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.detections import load_all
from harness.project import Layout
from harness.splunk import appbuild

ROOT = Path(__file__).resolve().parents[2]
SDK_FILE = "lib/splunklib/"

# check name -> (why it is acceptable, which messages it covers). A warning about our own code under
# the same check name is not covered.
ALLOWED_WARNINGS = {
    "check_for_python_script_existence": (
        "a notice for every app with Python files (Python 2/3 cross-compatibility); the app is Python 3 only",
        lambda m: "Python files found" in m["message"]),
    "check_collections_conf": (
        "a notice for every app with a KV store collection (\"No action required\"): default/collections.conf "
        "defines the baseline of login_new_country_for_user, kept in the KV store because an app update "
        "replaces the files of lookups/ (harness/splunk/baselinesearch.py)",
        lambda m: "App contains collections.conf" in m["message"]),
    "check_for_possible_threading": (
        "subprocess.Popen in the vendored SDK's searchcommands/external_search_command.py, which "
        "searchcommands/__init__.py imports (notes/splunk.md section 3); awssignin never calls it",
        lambda m: (m.get("message_filename") or "").startswith(SDK_FILE + "searchcommands/external_search_command.py")),
}
# checks that must have run and passed on our confs: proof that AppInspect read them
MUST_PASS = ("check_for_sched_saved_searches_earliest_time", "check_for_sched_saved_searches_latest_time",
             "check_for_gratuitous_cron_scheduling", "check_commands_conf_python_required",
             "check_command_scripts_python_version", "check_meta_default_write_access",
             "check_reload_trigger_for_meta")
BAD_RESULTS = ("failure", "error", "future_failure")


def appinspect_command():
    for candidate in (Path(sys.executable).parent / "splunk-appinspect", shutil.which("splunk-appinspect")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    return None


CLI = appinspect_command()
pytestmark = pytest.mark.skipif(
    CLI is None, reason="splunk-appinspect is not installed (pip install splunk-appinspect==4.3.1)")


def inspect(package, out_dir, tags=()):
    """Run AppInspect offline; return {check name: (result, [messages])} and the summary."""
    report = Path(out_dir) / ("appinspect-%s.json" % "-".join(tags or ("all",)))
    cmd = [CLI, "inspect", str(package), "--mode", "precert", "--skip-trusted-libraries-update",
           "--data-format", "json", "--output-file", str(report)]
    for tag in tags:
        cmd += ["--included-tags", tag]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=300)
    assert proc.returncode in (0, 1), "splunk-appinspect exited %d:\n%s" % (proc.returncode, proc.stdout[-3000:])
    data = json.loads(report.read_text(encoding="utf-8"))
    checks = {}
    for rep in data["reports"]:
        for group in rep["groups"]:
            for check in group["checks"]:
                checks[check["name"]] = (check["result"], check["messages"])
    return checks, data["summary"]


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    layout = Layout(ROOT)
    return appbuild.build_package(layout, load_all(layout.detections), tmp_path_factory.mktemp("dist"))


def problems(checks):
    found = []
    for name, (result, messages) in sorted(checks.items()):
        if result in BAD_RESULTS:
            found.append("%s %s: %s" % (result.upper(), name, [m.get("message") for m in messages]))
        elif result == "warning":
            allowed = ALLOWED_WARNINGS.get(name)
            for m in messages:
                if allowed is None or not allowed[1](m):
                    found.append("WARNING %s not on the allow-list: %s (%s)"
                                 % (name, m.get("message"), m.get("message_filename")))
    return found


@pytest.mark.parametrize("tags", [(), ("cloud",)], ids=["precert", "precert-cloud"])
def test_package_passes_appinspect(package, tmp_path, tags):
    checks, summary = inspect(package, tmp_path, tags)
    assert problems(checks) == [], summary
    for name in MUST_PASS:
        assert checks.get(name, ("missing",))[0] == "success", name
    assert summary["success"] > 50


def test_appinspect_failures_are_detected(package, tmp_path):
    """The check above can fail: a forbidden [triggers] reload.macros is reported as a failure."""
    import tarfile
    files = {}
    with tarfile.open(str(package), "r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile():
                files[member.name.split("/", 1)[1]] = tar.extractfile(member).read()
    files["default/app.conf"] += b"\n[triggers]\nreload.macros = simple\n"
    broken = appbuild.write_package(files, tmp_path / "broken" / package.name)
    checks, _ = inspect(broken, tmp_path)
    assert checks["check_for_trigger_stanza"][0] == "failure"
    assert any(p.startswith("FAILURE check_for_trigger_stanza") for p in problems(checks))
