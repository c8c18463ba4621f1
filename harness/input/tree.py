"""Directories: every regular file under them, each directory read once, nothing ever blocked on.

A FIFO, socket or device inside a tree is reported and never opened (opening a FIFO waits for a
writer); a directory that cannot be listed is reported; a symbolic link to a directory is followed,
but a directory already read (by another link, or a loop back to an ancestor) is not read again.
"""

import os
import re
import stat

from .names import display

# CloudTrail names files <account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz (CloudTrail
# user guide, "CloudTrail log file name format"): read them in time order across regions so records
# arrive roughly in order.
_CLOUDTRAIL_NAME_TIME = re.compile(r"_(\d{8}T\d{4}Z)_")
DIGEST_DIRECTORY = "CloudTrail-Digest"  # digest files hold hashes of log files, not events


def time_order(path):
    m = _CLOUDTRAIL_NAME_TIME.search(os.path.basename(path))
    return (0, m.group(1), path) if m else (1, "", path)


def kind(mode):
    """What a file that is not regular or a directory is, for the skip's detail."""
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def walk(top, skip, stats):
    """The regular files under ``top``, in CloudTrail time order; problems go to ``skip``."""
    found = []
    seen = set()
    try:
        top_stat = os.stat(top)
    except OSError as err:
        skip("cannot read directory", display(top), err.strerror or str(err))
        return found
    stack = [(top, (top_stat.st_dev, top_stat.st_ino), frozenset())]
    while stack:
        path, ident, ancestors = stack.pop()
        if ident in ancestors:
            skip("symlink loop", display(path), "leads back to a directory above it")
            continue
        if ident in seen:
            stats["directories already read"] += 1
            continue
        seen.add(ident)
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as err:
            skip("cannot read directory", display(path), err.strerror or str(err))
            continue
        below = ancestors | {ident}
        subdirs = []
        for entry in entries:
            full = entry.path
            try:
                st = os.stat(full)  # follows symbolic links; never opens the file
            except FileNotFoundError:
                skip("broken symlink", display(full))
                continue
            except OSError as err:
                skip("cannot read", display(full), err.strerror or str(err))
                continue
            if stat.S_ISDIR(st.st_mode):
                if entry.name == DIGEST_DIRECTORY:
                    stats["digest directories ignored"] += 1
                    continue
                subdirs.append((full, (st.st_dev, st.st_ino), below))
            elif stat.S_ISREG(st.st_mode):
                found.append(full)
            else:
                skip("not a regular file", display(full), kind(st.st_mode))
        stack.extend(reversed(subdirs))
    return sorted(found, key=time_order)
