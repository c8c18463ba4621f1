"""The eventIDs replay has already offered to the per-event detections: exact, in bounded memory.

Per-event detections see records as they are read, in input order, so they cannot rely on order
to meet a duplicate next to its copy (as correlations, fed sorted, do). CloudTrail delivers one
event twice when two trails log it (an organization trail and the account's own), and a log tree
holds the two copies in different folders, read far apart. Both platforms drop the second copy
(the engine by eventID; Elastic through the project's fingerprint pipeline), but each within its
own memory horizon, so far-apart copies could alert twice, on one platform and not the other.
Replay therefore drops them once, for both, before either sees them: the first ``memory_ids`` ids
in a set, then every id in a SQLite table in a private temporary directory (standard library;
the page cache, not the number of ids, bounds memory).
"""

import os
import shutil
import sqlite3
import tempfile

MEMORY_IDS = 100000


def _key(event_id):
    # bytes, so that an id with a lone surrogate (JSON allows one) is stored as it is
    return event_id.encode("utf-8", "surrogatepass")


class SeenIds(object):
    def __init__(self, directory=None, memory_ids=MEMORY_IDS):
        self.parent = directory
        self.memory_ids = memory_ids
        self.ids = set()
        self.db = None
        self.tmp = None
        self.error = None     # why ids stayed in memory past the bound (no temporary directory)

    def add(self, event_id):
        """True the first time ``event_id`` is seen."""
        if self.db is not None:
            return self.db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (_key(event_id),)).rowcount == 1
        if event_id in self.ids:
            return False
        self.ids.add(event_id)
        if len(self.ids) > self.memory_ids and self.error is None:
            self._to_disk()
        return True

    def _to_disk(self):
        try:
            self.tmp = tempfile.mkdtemp(prefix="awssignin-ids-", dir=self.parent)
            db = sqlite3.connect(os.path.join(self.tmp, "ids.sqlite"), isolation_level=None)
            # a scratch table: no journal, no fsync; it dies with the run
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            db.execute("CREATE TABLE seen (id BLOB PRIMARY KEY) WITHOUT ROWID")
            db.execute("BEGIN")
            db.executemany("INSERT INTO seen VALUES (?)", ((_key(i),) for i in self.ids))
        except (OSError, sqlite3.Error) as err:
            self.error = str(err)
            self.close()
            return
        self.db = db
        self.ids = set()

    def close(self):
        if self.db is not None:
            self.db.close()
            self.db = None
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
