"""Vendoring splunklib (splunk-sdk) into the app's ``lib/`` directory.

splunk-sdk 3.0.1 declares Requires-Python >= 3.13, so pip on an older interpreter silently resolves
2.1.1; the wheel is therefore downloaded for 3.13 explicitly. Its ``searchcommands`` package runs on
3.9 and 3.13 (notes/splunk.md §3). ``splunklib/ai`` and ``splunklib/modularinput`` are dropped: the
command does not import them and they only add AppInspect surface. The copy is never committed
(``addon/lib/splunklib/`` is git-ignored); ``awssignin build`` and the tests call
``vendor_splunklib`` and it does nothing when the same version is already in place.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

SDK_VERSION = "3.0.1"
# The 3.0.1 wheel's digest: a different file under the same name is refused, not vendored.
SDK_SHA256 = {"3.0.1": "cf5b0dc6a6908c84d13f3c62658f54ef1aec2d8421a6646b5281a2f14f0de6ed"}
WHEEL_NAME = "splunk_sdk-{version}-py3-none-any.whl"
DROPPED = ("splunklib/ai/", "splunklib/modularinput/")
MARKER = "VENDORED.txt"  # inside lib/splunklib/: which wheel the copy came from (no dotfile: AppInspect)


class VendorError(RuntimeError):
    """splunklib could not be vendored; the message says why and what to do."""


def cache_dir():
    """Where downloaded wheels are kept: $AWSSIGNIN_CACHE, else $XDG_CACHE_HOME/awssignin, else ~/.cache/awssignin."""
    if os.environ.get("AWSSIGNIN_CACHE"):
        return Path(os.environ["AWSSIGNIN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "awssignin"


def marker_text(version):
    return "splunk-sdk==%s\nsha256=%s\n" % (version, SDK_SHA256.get(version, "unpinned"))


def is_vendored(lib_dir, version=SDK_VERSION):
    marker = Path(lib_dir) / "splunklib" / MARKER
    return marker.is_file() and marker.read_text(encoding="utf-8") == marker_text(version)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def download_wheel(version=SDK_VERSION, cache=None, python=None):
    """The splunk-sdk wheel, from the cache or downloaded with pip. Raises VendorError."""
    cache = Path(cache) if cache else cache_dir()
    wheel = cache / WHEEL_NAME.format(version=version)
    if not wheel.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        cmd = [python or sys.executable, "-m", "pip", "download", "splunk-sdk==%s" % version,
               "--no-deps", "--python-version", "3.13", "--only-binary=:all:",
               "--disable-pip-version-check", "--quiet", "--dest", str(cache)]
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  universal_newlines=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise VendorError("cannot run pip to download splunk-sdk==%s: %s" % (version, err))
        if proc.returncode != 0 or not wheel.is_file():
            tail = "\n".join(proc.stdout.strip().splitlines()[-8:])
            raise VendorError(
                "cannot download splunk-sdk==%s from PyPI (is PyPI reachable?). Alternatively put %s in "
                "%s.\npip exited %d:\n%s" % (version, wheel.name, cache, proc.returncode, tail))
    expected = SDK_SHA256.get(version)
    if expected is not None:
        actual = _sha256(wheel)
        if actual != expected:
            raise VendorError("%s has sha256 %s, expected %s; delete it and retry" % (wheel, actual, expected))
    return wheel


def vendor_splunklib(lib_dir, version=SDK_VERSION, cache=None, python=None):
    """Put splunk-sdk's ``splunklib/`` into ``lib_dir`` (the app's lib/) and return its path.

    Idempotent: returns at once when the marker says this version is already there. Otherwise the
    package is extracted next to its destination and swapped in, so a failure never leaves half a copy.
    """
    lib_dir = Path(lib_dir)
    target = lib_dir / "splunklib"
    if is_vendored(lib_dir, version):
        return target
    wheel = download_wheel(version, cache, python)
    lib_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".splunklib-", dir=str(lib_dir)))
    try:
        try:
            with zipfile.ZipFile(str(wheel)) as archive:
                license_name = None
                for info in archive.infolist():
                    name = info.filename
                    if name.endswith("/licenses/LICENSE") or name.endswith(".dist-info/LICENSE"):
                        license_name = name
                    if not name.startswith("splunklib/") or name.endswith("/"):
                        continue
                    if name.startswith(DROPPED) or "__pycache__" in name or name.endswith(".pyc"):
                        continue
                    archive.extract(info, str(staging))
                if license_name is not None:  # Apache-2.0: the licence travels with the code
                    (staging / "splunklib" / "LICENSE").write_bytes(archive.read(license_name))
        except zipfile.BadZipFile as err:
            raise VendorError("%s is not a valid wheel (%s); delete it and retry" % (wheel, err))
        if not (staging / "splunklib" / "searchcommands" / "__init__.py").is_file():
            raise VendorError("%s has no splunklib/searchcommands package" % wheel)
        (staging / "splunklib" / MARKER).write_text(marker_text(version), encoding="utf-8")
        if target.exists():
            shutil.rmtree(str(target))
        os.replace(str(staging / "splunklib"), str(target))
    finally:
        shutil.rmtree(str(staging), ignore_errors=True)
    return target


def main(argv=None):
    """``python -m harness.splunk.vendor [LIB_DIR]``: vendor into LIB_DIR (default: the checkout's addon/lib)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        lib_dir = Path(argv[0])
    else:
        from ..project import Layout
        lib_dir = Layout().addon / "lib"
    try:
        path = vendor_splunklib(lib_dir)
    except VendorError as err:
        print("error: %s" % err, file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
