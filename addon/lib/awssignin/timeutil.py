"""Time parsing shared by the engine: CloudTrail timestamps and window durations."""

import calendar
import datetime
import re
import time

_DURATION = re.compile(r"\s*(\d{1,12})\s*(s|m|h|d)\s*\Z")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# the longest window or lateness accepted: ten years (larger values only overflow the arithmetic)
MAX_DURATION = 3650 * 86400
# the times the engine can write back as it read them: years 1000-9999 (ISO 8601's four digits;
# strftime writes years below 1000 without their leading zeros)
MIN_EPOCH = -30610224000.0    # 1000-01-01T00:00:00Z
MAX_EPOCH = 253402300800.0    # 10000-01-01T00:00:00Z (excluded)
_DAYS = {}  # "YYYY-MM-DD" -> epoch of its midnight UTC, for dates already validated once
# \Z, not $: "$" also matches before a trailing newline, which the other parsers refuse; at most
# nine fraction digits (nanoseconds), the most the Elastic mapping's date parsing reads
# (harness/elastic/ecs.py _parse_iso), so that every time accepted here is accepted there
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?\Z"
)


def parse_duration(text):
    """'15m' -> 900. Accepts an int (seconds) as is. Raises ValueError naming the bad text."""
    if isinstance(text, bool):
        raise ValueError("duration must be like '15m', not %r" % (text,))
    if isinstance(text, int):
        if text <= 0 or text > MAX_DURATION:
            raise ValueError("duration must be positive and at most %dd, not %r" % (MAX_DURATION // 86400, _clipped(text)))
        return text
    m = _DURATION.match(str(text))
    if not m or int(m.group(1)) <= 0:
        raise ValueError("duration must be a positive number followed by s, m, h or d (like '15m'), not %r"
                         % (_clipped(text),))
    seconds = int(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    if seconds > MAX_DURATION:
        raise ValueError("duration must be at most %dd, not %r" % (MAX_DURATION // 86400, _clipped(text)))
    return seconds


def _clipped(text):
    text = str(text)
    return text if len(text) <= 40 else text[:40] + "..."


def format_duration(seconds):
    for unit in ("d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return "%d%s" % (seconds // _UNIT_SECONDS[unit], unit)
    return "%ds" % seconds


def parse_time(text):
    """ISO 8601 (CloudTrail's '2026-01-15T09:12:00Z', with optional fraction/offset) -> epoch seconds.

    Also accepts a number (Splunk's ``_time``). Raises ValueError on anything else, and on times
    ``format_time`` could not write back as read: years outside 1000-9999, leap seconds (epoch
    seconds have none: 23:59:60 and the next 00:00:00 would be one instant), offsets beyond 23:59.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return _in_range(float(text), text)
    if not isinstance(text, str):
        raise ValueError("expected an ISO 8601 string, got %s" % type(text).__name__)
    if len(text) == 20 and text[10] == "T" and text[19] == "Z":
        # CloudTrail's own form, 2026-01-15T09:12:00Z: the date's epoch is cached, the time added
        day = _DAYS.get(text[:10])
        clock = text[11:19]
        digits = clock.replace(":", "")
        if day is not None and clock[2] == ":" and clock[5] == ":" and digits.isascii() and digits.isdigit():
            h, mi, s = int(clock[:2]), int(clock[3:5]), int(clock[6:])
            if h < 24 and mi < 60 and s < 60:
                return float(day + h * 3600 + mi * 60 + s)
    m = _ISO.match(text)
    if not m:
        raise ValueError("not an ISO 8601 time: %r" % (text[:60],))
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    if s == 60:
        raise ValueError("a leap second cannot be placed in epoch time: %r" % (text[:60],))
    try:
        # datetime validates the calendar (no 30 February)
        epoch = calendar.timegm(datetime.datetime(y, mo, d, h, mi, s).timetuple())
    except (ValueError, OverflowError):
        raise ValueError("not a valid date/time: %r" % (text[:60],))
    if m.group(7) is None and m.group(8) == "Z" and len(_DAYS) < 4096 and MIN_EPOCH <= epoch < MAX_EPOCH:
        _DAYS[text[:10]] = epoch - h * 3600 - mi * 60 - s
    frac = m.group(7)
    if frac:
        epoch += float(frac)
    tz = m.group(8)
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        if int(digits[:2]) > 23 or int(digits[2:]) > 59:
            raise ValueError("not a valid UTC offset: %r" % (text[:60],))
        epoch -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return _in_range(float(epoch), text)


def _in_range(epoch, text):
    # NaN fails both comparisons, so it is refused too
    if not MIN_EPOCH <= epoch < MAX_EPOCH:
        raise ValueError("outside the years 1000-9999: %r" % (_clipped(text),))
    return epoch


def format_time(epoch):
    """Epoch seconds -> '2026-01-15T09:12:00Z' (fraction kept only when present)."""
    # whole microseconds first, so that a fraction never rounds up to a ".1000000"
    whole, micros = divmod(int(round(epoch * 1000000)), 1000000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    if micros:
        text += (".%06d" % micros).rstrip("0")
    return text + "Z"
