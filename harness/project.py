"""Where the project's files are: the checkout that holds detections/ and addon/."""

import os
from pathlib import Path

ENV = "AWSSIGNIN_ROOT"


class ProjectNotFound(RuntimeError):
    pass


def find_root(start=None):
    """$AWSSIGNIN_ROOT, else the nearest directory at or above ``start`` (cwd) with detections/ and addon/,
    else the checkout this package was installed from (editable install)."""
    if os.environ.get(ENV):
        root = Path(os.environ[ENV]).resolve()
        if not (root / "detections").is_dir():
            raise ProjectNotFound("%s=%s has no detections/ directory" % (ENV, root))
        return root
    here = Path(start or os.getcwd()).resolve()
    for candidate in [here] + list(here.parents):
        if (candidate / "detections").is_dir() and (candidate / "addon").is_dir():
            return candidate
    package_root = Path(__file__).resolve().parent.parent
    if (package_root / "detections").is_dir():
        return package_root
    raise ProjectNotFound(
        "cannot find the project (a directory with detections/ and addon/); run from the checkout "
        "or set %s" % ENV
    )


class Layout(object):
    """The paths the harness reads and writes, relative to one project root."""

    def __init__(self, root=None):
        self.root = Path(root) if root else find_root()
        self.detections = self.root / "detections"
        self.fixtures = self.detections / "fixtures"
        self.addon = self.root / "addon"
        self.engine_table = self.addon / "lib" / "awssignin" / "detections.json"
        self.dist = self.root / "dist"
