"""The engine runs inside Splunk's Python (3.9 on Splunk 9.3-10.0): its tests must pass there too.

Runs the engine's own test files under the oldest CPython >= 3.9 on this machine, in a cached
virtual environment holding only pytest (the engine itself has no third-party imports).
"""

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE_TESTS = ["tests/unit/test_engine.py", "tests/unit/test_predicates.py",
                "tests/unit/test_normalize.py", "tests/unit/test_timeutil.py"]


def oldest_python():
    candidates = []
    for minor in range(9, sys.version_info[1] + 1):
        found = shutil.which("python3.%d" % minor)
        paths = [found] if found else []
        paths += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.%d.*/bin/python3.%d" % (minor, minor))))
        for path in paths:
            try:
                subprocess.run([path, "-c", "import sys"], check=True, capture_output=True, timeout=30)
            except (OSError, subprocess.SubprocessError):
                continue
            candidates.append((minor, path))
            break
        if candidates:
            break
    return candidates[0] if candidates else None


def test_engine_tests_pass_under_the_oldest_python(tmp_path):
    found = oldest_python()
    if found is None or found[0] >= sys.version_info[1]:
        pytest.skip("no Python older than %d.%d on this machine" % sys.version_info[:2])
    minor, python = found
    venv = Path(os.path.expanduser("~/.cache/awssignin/venv-py3.%d" % minor))
    bin_python = venv / "bin" / "python"
    if not bin_python.exists():
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(bin_python), "-m", "pip", "install", "-q", "pytest>=7,<9"], check=True)
    result = subprocess.run(
        [str(bin_python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT),
         "-c", os.devnull] + ENGINE_TESTS,
        cwd=str(ROOT), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, "engine tests failed under Python 3.%d:\n%s%s" % (minor, result.stdout[-4000:], result.stderr[-2000:])
    assert " passed" in result.stdout
