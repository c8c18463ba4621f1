"""Where the project's files are: the checkout that holds detections/ and addon/.

The project is the one the harness was installed from, unless ``--project DIR`` or ``$AWSSIGNIN_ROOT``
names another. It is never guessed from the current directory: a folder that happens to hold
``detections/`` and ``addon/`` must not have its detections evaluated, or its code run by ``test``,
just because a command was started there.
"""

import os
from pathlib import Path

ENV = "AWSSIGNIN_ROOT"
_chosen = None  # set by --project (harness.cli), for every Layout() of this process


class ProjectNotFound(RuntimeError):
    pass


def _checked(root, origin):
    root = Path(root).expanduser().resolve()
    if not (root / "detections").is_dir():
        raise ProjectNotFound("%s%s has no detections/ directory" % (origin, root))
    return root


def use_project(directory):
    """Make ``directory`` the project root for this process (``--project DIR``); None: the default."""
    global _chosen
    _chosen = _checked(directory, "--project ") if directory else None
    return _chosen


def find_root():
    """``--project``, else ``$AWSSIGNIN_ROOT``, else the checkout this package was installed from."""
    if _chosen is not None:
        return _chosen
    if os.environ.get(ENV):
        return _checked(os.environ[ENV], "%s=" % ENV)
    package_root = Path(__file__).resolve().parent.parent
    if (package_root / "detections").is_dir():
        return package_root
    raise ProjectNotFound(
        "cannot find the project (a directory with detections/ and addon/): this installation is not a "
        "checkout; pass --project DIR or set %s" % ENV
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
