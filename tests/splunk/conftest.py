"""Fixtures for the Splunk tests: interpreters Splunk ships, a vendored splunklib, throw-away app copies."""

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ADDON_LIB = REPO / "addon" / "lib"
if str(ADDON_LIB) not in sys.path:  # the engine package (awssignin) lives in the app, not in site-packages
    sys.path.insert(0, str(ADDON_LIB))
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from harness.splunk.vendor import vendor_splunklib  # noqa: E402

# Splunk 9.3-10.0 run app commands on Python 3.9, 10.2+ also on 3.13 (notes/splunk.md §3).
SPLUNK_PYTHONS = [
    ("py3.9", ["/root/.pyenv/versions/3.9.18/bin/python3.9", "python3.9"]),
    ("py3.13", ["/root/.pyenv/versions/3.13.0/bin/python3.13", "python3.13"]),
    ("current", [sys.executable]),
]


def find_python(candidates):
    for candidate in candidates:
        path = candidate if os.path.isabs(candidate) else shutil.which(candidate)
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


@pytest.fixture(params=[name for name, _ in SPLUNK_PYTHONS])
def command_python(request):
    """Each interpreter Splunk runs commands with, when this machine has it."""
    candidates = dict(SPLUNK_PYTHONS)[request.param]
    path = find_python(candidates)
    if path is None:
        pytest.skip("%s is not installed here (looked for %s)" % (request.param, ", ".join(candidates)))
    return path


@pytest.fixture(scope="session")
def vendored_lib(tmp_path_factory):
    """A lib/ directory holding splunk-sdk's splunklib (downloaded once into the user cache)."""
    lib = tmp_path_factory.mktemp("vendored") / "lib"
    vendor_splunklib(lib)
    return lib


@pytest.fixture
def make_app(tmp_path, vendored_lib):
    """``make_app(specs, name="TA-awssignin")`` -> the command script of a fresh app copy whose detection
    table holds ``specs`` (or ``table_text`` verbatim)."""

    def make(specs=None, name="TA-awssignin", table_text=None):
        return build_app(tmp_path / name, vendored_lib, specs, table_text)

    return make


def build_app(app_dir, vendored_lib, specs=None, table_text=None):
    """A copy of the app's command and engine under ``app_dir`` with its own detection table."""
    app_dir = Path(app_dir)
    (app_dir / "bin").mkdir(parents=True)
    shutil.copy2(str(REPO / "addon" / "bin" / "awssignin.py"), str(app_dir / "bin" / "awssignin.py"))
    shutil.copytree(str(ADDON_LIB / "awssignin"), str(app_dir / "lib" / "awssignin"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "detections.json"))
    os.symlink(str(Path(vendored_lib) / "splunklib"), str(app_dir / "lib" / "splunklib"))
    if table_text is None:
        table_text = json.dumps({"detections": specs or []}, indent=1)
    (app_dir / "lib" / "awssignin" / "detections.json").write_text(table_text, encoding="utf-8")
    return app_dir / "bin" / "awssignin.py"
