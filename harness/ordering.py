"""Replay's ordering of correlation candidates: an external sort with a reorder buffer in front.

Correlations (thresholds, sequences, new terms) must see their records in eventTime order, and
logs come in any order: CloudTrail files are unordered, exports list the newest first, one record
may be dated a year ahead. Dropping what arrives "late" makes the alerts depend on the input order,
so replay drops nothing: every candidate (a record that passes some correlation's predicate; few
of all records) goes through this sorter, and the correlators are fed from its merged output once
the input has been read.

Memory is bounded by ``3 * spill_at`` candidates whatever the order (plus ``BATCH`` per run file
while merging):

- the reorder buffer (a heap) holds the candidates within ``lateness`` seconds of the newest one,
  at most ``spill_at`` of them; older ones leave it, oldest first, for the main run, which is
  therefore written in order (for nearly-ordered input it is the only run): kept in memory up to
  ``spill_at`` candidates, then appended to a file on disk;
- a candidate older than the last one written to the main run cannot join it: it waits in the
  straggler buffer, which is written as its own sorted run file every ``spill_at`` candidates;
- at the end the main run, the straggler runs and both buffers are merged (``heapq.merge``); more
  than ``MAX_FANIN`` runs are first merged into fewer, so open files stay bounded too.

``lateness`` therefore changes how much is written to disk, never what comes out. A run file that
cannot be written (disk full, no temporary directory) is the only way to lose a candidate: those
are counted in ``unplaced`` with their locations, and replay reports them and fails ``--strict``.
Run files are pickles of replay's own tuples, written and read back by this process only, in a
private directory (``tempfile.mkdtemp``: mode 0700) that ``close()`` removes.
"""

import heapq
import itertools
import os
import pickle
import shutil
import tempfile

SPILL_AT = 10000
MAX_FANIN = 64
BATCH = 64              # entries per pickle in a run file (fewer, larger pickles are faster)
UNPLACED_LOCATIONS = 20


class _Run(object):
    """One sorted run file being written."""

    def __init__(self, directory, serial):
        self.path = os.path.join(directory, "run-%06d.pickle" % serial)
        self.handle = open(self.path, "wb")
        self.pending = []

    def write(self, entry):
        self.pending.append(entry)
        if len(self.pending) >= BATCH:
            self._dump()

    def _dump(self):
        # one pickle per batch, each with its own memo (a Pickler kept open would keep every record
        # alive in its memo; an Unpickler kept open would resolve a later pickle's memo references
        # to earlier objects)
        batch, self.pending = self.pending, []
        pickle.dump(batch, self.handle, protocol=pickle.HIGHEST_PROTOCOL)

    def close(self):
        if self.pending and not self.handle.closed:
            self._dump()
        self.handle.close()


def _read_run(path):
    with open(path, "rb") as handle:
        while True:
            try:
                batch = pickle.load(handle)
            except EOFError:
                return
            for entry in batch:
                yield entry


class OrderedSpill(object):
    """``add(entry)`` in any order, then ``sorted()`` once. An entry is a tuple that starts with its
    sort key, ``(event_time, event_id, serial, ..., location)``: the serial (unique, increasing with
    input order) breaks ties, so the rest of the tuple is never compared; the location is last."""

    def __init__(self, lateness, spill_at=SPILL_AT, directory=None):
        self.lateness = lateness
        self.spill_at = max(1, int(spill_at))
        self.parent = directory
        self.directory = None
        self.heap = []
        self.stragglers = []
        self.newest = None
        self.main = None          # the main run's file once it outgrew memory, or None
        self.main_buffer = []     # the main run's entries not yet written, in order
        self.last_main = None     # key of the last entry released to the main run
        self.runs = []            # paths of finished run files
        self.serial = 0
        self.stats = {"candidates": 0, "written to disk": 0, "run files": 0, "unplaced": 0}
        self.unplaced_locations = []
        self.error = None

    # -- adding -------------------------------------------------------------------------------
    def add(self, entry):
        self.stats["candidates"] += 1
        t = entry[0]
        if self.last_main is not None and entry[:3] < self.last_main:
            self.stragglers.append(entry)
            if len(self.stragglers) >= self.spill_at:
                self._spill_stragglers()
            return
        heapq.heappush(self.heap, entry)
        if self.newest is None or t > self.newest:
            self.newest = t
        floor = self.newest - self.lateness
        heap = self.heap
        while heap and (heap[0][0] < floor or len(heap) > self.spill_at):
            self._to_main(heapq.heappop(heap))

    def _to_main(self, entry):
        self.last_main = entry[:3]
        self.main_buffer.append(entry)
        if len(self.main_buffer) >= self.spill_at:
            self._flush_main()

    def _flush_main(self):
        chunk, self.main_buffer = self.main_buffer, []
        if self.main is None:
            self.main = self._open_run()
            if self.main is None:
                self._lost(chunk)
                return
        try:
            for entry in chunk:
                self.main.write(entry)
            self.main._dump()
        except (OSError, pickle.PicklingError) as err:
            self._lost(chunk, err)
            return
        self.stats["written to disk"] += len(chunk)

    def _spill_stragglers(self):
        chunk, self.stragglers = sorted(self.stragglers), []
        run = self._open_run()
        if run is None:
            self._lost(chunk)
            return
        try:
            for entry in chunk:
                run.write(entry)
            run.close()
        except (OSError, pickle.PicklingError) as err:
            try:
                run.handle.close()
            except OSError:
                pass
            self._lost(chunk, err)
            return
        self.stats["written to disk"] += len(chunk)
        self.runs.append(run.path)

    def _open_run(self):
        try:
            if self.directory is None:
                self.directory = tempfile.mkdtemp(prefix="awssignin-replay-", dir=self.parent)
            self.serial += 1
            run = _Run(self.directory, self.serial)
        except OSError as err:
            self.error = str(err)
            return None
        self.stats["run files"] += 1
        return run

    def _lost(self, entries, err=None):
        if err is not None:
            self.error = str(err)
        self.stats["unplaced"] += len(entries)
        room = UNPLACED_LOCATIONS - len(self.unplaced_locations)
        self.unplaced_locations.extend(e[-1] for e in entries[:max(room, 0)])

    # -- reading ------------------------------------------------------------------------------
    def sorted(self):
        """Every entry added (less the unplaced ones), in key order."""
        main = iter(self.main_buffer)
        if self.main is not None:
            self.main.close()
            main = itertools.chain(_read_run(self.main.path), main)
            self.main = None
        while len(self.runs) > MAX_FANIN - 1 and self._merge_oldest():
            pass
        streams = [main] + [_read_run(path) for path in self.runs]
        streams.append(iter(sorted(self.heap)))
        streams.append(iter(sorted(self.stragglers)))
        self.main_buffer, self.heap, self.stragglers = [], [], []
        return heapq.merge(*streams)

    def _merge_oldest(self):
        """Merge MAX_FANIN runs into one, so that the final merge opens at most MAX_FANIN files."""
        batch, self.runs = self.runs[:MAX_FANIN], self.runs[MAX_FANIN:]
        run = self._open_run()
        if run is None:  # no room for a merge run: merge everything at once instead
            self.runs = batch + self.runs
            return False
        for entry in heapq.merge(*[_read_run(p) for p in batch]):
            run.write(entry)
        run.close()
        for path in batch:
            os.unlink(path)
        self.runs.append(run.path)
        return True

    def close(self):
        if self.main is not None:
            self.main.close()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
