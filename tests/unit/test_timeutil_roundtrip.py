"""timeutil accepts only times it can write back, and writes back exactly what it read.

A time the engine reads becomes an alert's first_seen/last_seen through ``format_time``; a time it
cannot write (a year below 1000 loses its leading zeros, a year past 9999 has five digits, a leap
second has no epoch of its own) must be refused when read, as a clear error, not later as a crash.
"""

import math
import random

import pytest

from awssignin.timeutil import MAX_DURATION, format_time, parse_duration, parse_time


@pytest.mark.parametrize("text", [
    "1000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-03-10T09:00:00.123456Z",
    "2026-03-10T09:00:00.5+01:00", "2024-02-29T12:00:00Z", "2026-03-10 09:00:00Z",
])
def test_accepted_times_round_trip(text):
    epoch = parse_time(text)
    assert parse_time(format_time(epoch)) == epoch


def test_nanoseconds_are_read_and_written_to_the_microsecond():
    assert format_time(parse_time("2026-03-10T09:00:00.123456789Z")) == "2026-03-10T09:00:00.123457Z"


def test_random_times_round_trip():
    rng = random.Random(11)
    for _ in range(3000):
        epoch = rng.uniform(-30610224000.0, 253402300799.0)
        epoch = round(epoch, rng.choice([0, 3, 6]))
        text = format_time(epoch)
        assert len(text.split("-")[0]) == 4
        # to the microsecond, or to what a float holds that far from 1970
        assert abs(parse_time(text) - epoch) <= max(1e-6, 4 * math.ulp(epoch))


@pytest.mark.parametrize("text", [
    "2026-03-10T09:00:00Z\n",            # "$" would have let the newline through
    "2026-03-10T09:00:00Z\r\n",
    "2016-12-31T23:59:60Z",              # a leap second
    "0999-12-31T23:59:59Z",              # written back as "999-..."
    "0000-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "9999-12-31T23:00:00-05:00",         # year 10000 once in UTC
    "1000-01-01T00:30:00+01:00",         # year 999 once in UTC
    "2026-03-10T09:00:00+24:00",         # offsets stop at 23:59
    "2026-03-10T09:00:00+01:60",
    "2026-03-10T09:00:00.1234567890Z",   # ten fraction digits: more than the Elastic mapping reads
])
def test_times_that_cannot_be_written_back_are_refused(text):
    with pytest.raises(ValueError):
        parse_time(text)


@pytest.mark.parametrize("number", [1e300, -1e300, float("nan"), float("inf"), 253402300800])
def test_epoch_numbers_outside_the_years_are_refused(number):
    with pytest.raises(ValueError):
        parse_time(number)


def test_fractions_never_round_up_into_an_unreadable_time():
    assert format_time(1773133200.9999999) == "2026-03-10T09:00:01Z"
    assert format_time(1773133200.0000004) == "2026-03-10T09:00:00Z"
    assert format_time(1773133200.25) == "2026-03-10T09:00:00.25Z"


def test_durations_are_bounded_with_a_short_message():
    assert parse_duration("%dd" % (MAX_DURATION // 86400)) == MAX_DURATION
    for text in ("9" * 400 + "m", "%dd" % (MAX_DURATION // 86400 + 1), MAX_DURATION + 1):
        with pytest.raises(ValueError) as err:
            parse_duration(text)
        assert len(str(err.value)) < 200
