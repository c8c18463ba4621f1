"""New terms against a baseline: the correlator of ``logic.type: new_terms``.

A qualifying event alerts when its group (``group_by``, e.g. account, user, country) has not been
seen in the ``window`` before it (``login_new_country_for_user``: 30 days). The baseline is the last
time each group was seen; it is kept in memory and fed by the events themselves (a test's fixtures
hold the older logins that make up the history; replay over a month of logs builds it as it goes)
and, on Splunk, also seeded from the lookup the app's baseline search maintains (``seed``).

Semantics, the same as Kibana's ``new_terms`` rule type (a term alerts when it did not occur in the
history window before the run's window, harness/elastic/schedule.py; Elastic's docs: new terms rules
"generate an alert only when the value has never appeared in that baseline period",
https://www.elastic.co/docs/solutions/security/detect-and-alert/new-terms):
- a group never seen before alerts: a user's first login from any country is new. Without history
  (the first month of a replay, or a Splunk app whose baseline was not bootstrapped) every group
  alerts once; the saved search's bootstrap (addon/README.md) fills the baseline first;
- a group seen at or after ``t - window`` is not new at ``t``; a seed whose last time is at or
  after ``t`` means the baseline already holds this event (an earlier run judged it), so it is not new;
- several qualifying events of a new group at once: the first (eventTime, eventID) alerts, the
  rest find it seen.
"""

SWEEP_EVERY = 3600  # seconds of event time between two sweeps of the baseline


class NewTerms(object):
    """Per-group last-seen times; ``add`` returns ``[[ev]]`` when the event's group is new."""

    def __init__(self, logic):
        self.group_by = logic["group_by"]
        self.history = logic["window_seconds"]
        self.last_seen = {}   # group tuple -> eventTime (epoch seconds) it was last seen
        self.swept = None     # the watermark of the last sweep

    def key(self, ev):
        key = tuple(ev.get(f) for f in self.group_by)
        return None if any(k is None for k in key) else key

    def seed(self, key, when):
        """A baseline entry: ``key`` (a tuple in group_by order) was seen at ``when``."""
        last = self.last_seen.get(key)
        if last is None or when > last:
            self.last_seen[key] = when

    def add(self, ev):
        key = self.key(ev)
        if key is None:
            return []
        t = ev["event_time"]
        last = self.last_seen.get(key)
        if last is None or t > last:
            self.last_seen[key] = t
        if last is not None and last >= t - self.history:
            return []
        return [[ev]]

    def expire(self, watermark):
        """Forget groups last seen before every later event's history window (at most once per
        SWEEP_EVERY of event time: the engine calls this every minute, the baseline holds many groups)."""
        if self.swept is not None and watermark - self.swept < SWEEP_EVERY:
            return []
        self.swept = watermark
        floor = watermark - self.history
        for key in [k for k, t in self.last_seen.items() if t < floor]:
            del self.last_seen[key]
        return []

    def finish(self):
        return []

    def terms(self):
        """[(group tuple, last seen)] sorted by group: what the baseline search writes back."""
        return sorted(self.last_seen.items(), key=lambda kv: tuple(str(v) for v in kv[0]))


# -- the Splunk baseline lookup: rows in (seeds), rows out (harness/splunk/baselinesearch.py) ----------

SEED_FIELDS = ("baseline_detection", "baseline_group", "baseline_last_seen")
# how long the lookup keeps a group: longer than any history the command accepts (window= at most 366
# days), so a window tuned on the alert alone needs no change to the baseline search
RETENTION = 366 * 86400


def is_seed(record):
    """A row of the baseline lookup that ``inputlookup append=true`` put among the events."""
    value = record.get("baseline_group")
    return value not in (None, "", [])


def _single(record, name):
    from .normalize import BadRecord

    value = record.get(name)
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else None
    if not isinstance(value, str) or not value:
        raise BadRecord(name, "missing in a baseline row")
    return value


def _engines(engine):
    # a NewBursts (indexed_within=) feeds two engines; both need the baseline
    from .newbursts import NewBursts

    return [engine.all, engine.before] if isinstance(engine, NewBursts) else [engine]


def _new_terms(engine, detection_id):
    for det, corr in zip(engine.detections, engine.correlators):
        if det.id == detection_id and isinstance(corr, NewTerms):
            return det, corr
    return None, None


def seed(engine, record):
    """Feed one baseline row to the new_terms detection it names. Raises normalize.BadRecord naming
    the field; a row of a detection the search does not run is ignored (returns False)."""
    import json

    from .normalize import BadRecord

    detection_id = _single(record, "baseline_detection")
    text = _single(record, "baseline_group")
    try:
        group = json.loads(text)
    except ValueError:
        raise BadRecord("baseline_group", "not JSON")
    if not isinstance(group, dict):
        raise BadRecord("baseline_group", "not a JSON object")
    try:
        when = float(_single(record, "baseline_last_seen"))
    except ValueError:
        raise BadRecord("baseline_last_seen", "not a number of epoch seconds")
    if when != when or when in (float("inf"), float("-inf")):
        raise BadRecord("baseline_last_seen", "not a number of epoch seconds")
    used = False
    for eng in _engines(engine):
        det, corr = _new_terms(eng, detection_id)
        if corr is None:
            continue
        key = tuple(group.get(name) for name in det.logic["group_by"])
        if any(not isinstance(k, str) or not k for k in key):
            raise BadRecord("baseline_group", "needs %s" % ", ".join(det.logic["group_by"]))
        corr.seed(key, when)
        used = True
    return used


def baseline_rows(engine):
    """The merged baseline of every new_terms detection the engine runs, as lookup rows: each group's
    latest time, without groups older than RETENTION (or the history, if longer) before the newest
    time known (events or seeds). Call after ``engine.finish()``."""
    import json

    rows = []
    for eng in _engines(engine)[:1]:
        for det, corr in zip(eng.detections, eng.correlators):
            if not isinstance(corr, NewTerms):
                continue
            terms = corr.terms()
            if not terms:
                continue
            floor = max(t for _, t in terms) - max(corr.history, RETENTION)
            names = det.logic["group_by"]
            for key, when in terms:
                if when < floor:
                    continue
                group = dict(zip(names, key))
                row = {"baseline_detection": det.id,
                       "baseline_group": json.dumps(group, sort_keys=False, separators=(",", ":")),
                       "baseline_last_seen": int(when) if when == int(when) else when}
                for name, value in group.items():
                    row["group_" + name] = value
                rows.append(row)
    return rows


def judged_earlier(engine, alert):
    """True when ``engine`` (a run's evaluation of the events indexed before its slice) already saw
    the group of a new_terms ``alert`` within the history of the alert's event, before or after it:
    a group is judged once, on the event indexed first, as Kibana's new_terms finds an earlier-indexed
    occurrence in its history (awssignin/newbursts.py)."""
    det, corr = _new_terms(engine, alert["detection"])
    if corr is None:
        return False
    from .timeutil import parse_time

    key = tuple(alert["group"].get(name) for name in det.logic["group_by"])
    last = corr.last_seen.get(key)
    return last is not None and last >= parse_time(alert["first_seen"]) - corr.history
