"""Time parsing shared by the engine: CloudTrail timestamps and window durations."""

import calendar
import datetime
import re
import time

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DAYS = {}  # "YYYY-MM-DD" -> epoch of its midnight UTC, for dates already validated once
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_duration(text):
    """'15m' -> 900. Accepts an int (seconds) as is. Raises ValueError naming the bad text."""
    if isinstance(text, bool):
        raise ValueError("duration must be like '15m', not %r" % (text,))
    if isinstance(text, int):
        if text <= 0:
            raise ValueError("duration must be positive, not %r" % (text,))
        return text
    m = _DURATION.match(str(text))
    if not m or int(m.group(1)) <= 0:
        raise ValueError("duration must be a positive number followed by s, m, h or d (like '15m'), not %r" % (text,))
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2)]


def format_duration(seconds):
    for unit in ("d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return "%d%s" % (seconds // _UNIT_SECONDS[unit], unit)
    return "%ds" % seconds


def parse_time(text):
    """ISO 8601 (CloudTrail's '2026-01-15T09:12:00Z', with optional fraction/offset) -> epoch seconds.

    Also accepts a number (Splunk's ``_time``). Raises ValueError on anything else.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
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
    try:
        # datetime validates the calendar (no 30 February); leap seconds are clamped
        epoch = calendar.timegm(datetime.datetime(y, mo, d, h, mi, min(s, 59)).timetuple()) + max(s - 59, 0)
    except (ValueError, OverflowError):
        raise ValueError("not a valid date/time: %r" % (text[:60],))
    if m.group(7) is None and m.group(8) == "Z" and len(_DAYS) < 4096:
        _DAYS[text[:10]] = epoch - h * 3600 - mi * 60 - s
    frac = m.group(7)
    if frac:
        epoch += float(frac)
    tz = m.group(8)
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        epoch -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return float(epoch)


def format_time(epoch):
    """Epoch seconds -> '2026-01-15T09:12:00Z' (fraction kept only when present)."""
    whole = int(epoch)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    frac = epoch - whole
    if frac > 1e-6:
        text += ("%.6f" % frac)[1:].rstrip("0")
    return text + "Z"
