"""Moving fixture records to the present, keeping the gaps between them.

Real platforms only look at recent data: a scheduled Splunk search covers the last hour, a Kibana rule
run the last few minutes of ``event.ingested``. Fixtures carry fixed dates, so before they are sent to a
container every record is moved by the same whole number of seconds so that the newest lands at
``now - minutes_ago`` (at or up to a second before it). Order, ties and gaps are unchanged, so window
and threshold semantics are exercised exactly as the fixture describes.
"""

import copy
import math

from awssignin.timeutil import format_time, parse_time

# Timestamps a CloudTrail sign-in record carries that describe the event's own time line; all move
# together. (sessionContext.attributes.creationDate is when the session began, before the event.)
SHIFTED_PATHS = (
    ("eventTime",),
    ("userIdentity", "sessionContext", "attributes", "creationDate"),
)


class TimeShiftError(ValueError):
    pass


def event_epoch(record, index=None):
    """eventTime of a raw record as epoch seconds; the error names the record."""
    where = "record %d" % index if index is not None else "record"
    if not isinstance(record, dict):
        raise TimeShiftError("%s: expected a JSON object" % where)
    value = record.get("eventTime")
    if value is None:
        raise TimeShiftError("%s: eventTime is missing" % where)
    try:
        return parse_time(value)
    except ValueError as err:
        raise TimeShiftError("%s: eventTime: %s" % (where, err))


def time_range(records):
    """(oldest, newest) eventTime as epoch seconds."""
    if not records:
        raise TimeShiftError("no records to shift")
    times = [event_epoch(r, i) for i, r in enumerate(records)]
    return min(times), max(times)


def shift_for(records, now, minutes_ago=2):
    """The whole number of seconds that moves the newest record to ``now - minutes_ago`` (or just before)."""
    if minutes_ago < 0:
        raise TimeShiftError("minutes_ago must not be negative, got %r" % (minutes_ago,))
    _, newest = time_range(records)
    return int(math.floor(now - minutes_ago * 60 - newest))


def shift_records(records, now, minutes_ago=2):
    """``(shifted_copies, delta_seconds)``: records moved by ``delta_seconds``; the input is untouched.

    Every timestamp of ``SHIFTED_PATHS`` moves; one that cannot be parsed (other than eventTime, which
    is required) is left as it is rather than guessed at.
    """
    delta = shift_for(records, now, minutes_ago)
    return [shift_record(r, delta) for r in records], delta


def shift_record(record, delta):
    """A deep copy of ``record`` with its timestamps moved by ``delta`` seconds."""
    out = copy.deepcopy(record)
    for path in SHIFTED_PATHS:
        parent = out
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict) or path[-1] not in parent:
            continue
        value = parent[path[-1]]
        try:
            epoch = parse_time(value)
        except ValueError:
            if path == ("eventTime",):
                raise TimeShiftError("eventTime: not an ISO 8601 time: %r" % (value,))
            continue
        parent[path[-1]] = format_time(epoch + delta)
    return out
