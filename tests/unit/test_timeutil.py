import pytest

from awssignin.timeutil import format_duration, format_time, parse_duration, parse_time


def test_cloudtrail_time_is_utc_epoch():
    assert parse_time("2026-03-10T09:00:00Z") == 1773133200.0
    assert format_time(1773133200.0) == "2026-03-10T09:00:00Z"


def test_offsets_and_fractions():
    assert parse_time("2026-03-10T10:00:00+01:00") == parse_time("2026-03-10T09:00:00Z")
    assert parse_time("2026-03-10T09:00:00.250Z") == 1773133200.25
    assert format_time(1773133200.25) == "2026-03-10T09:00:00.25Z"


@pytest.mark.parametrize("bad", ["", "yesterday", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", 3j, None, True])
def test_bad_times_are_rejected(bad):
    with pytest.raises(ValueError):
        parse_time(bad)


def test_durations():
    assert parse_duration("15m") == 900
    assert parse_duration("1h") == 3600
    assert parse_duration("90s") == 90
    assert format_duration(900) == "15m"
    assert format_duration(90) == "90s"
    for bad in ("0m", "15", "m", "-5m", "1.5h", True):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_the_cached_fast_path_agrees_with_the_full_parse():
    import calendar
    import datetime
    import random

    rng = random.Random(3)
    for _ in range(2000):
        moment = datetime.datetime(2026, 1, 1) + datetime.timedelta(seconds=rng.randrange(0, 3 * 366 * 86400))
        text = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert parse_time(text) == calendar.timegm(moment.timetuple())
        assert isinstance(parse_time(text), float)
    parse_time("2026-03-10T00:00:00Z")  # the date is cached now
    for bad in ("2026-03-10T24:00:00Z", "2026-03-10T09:60:00Z", "2026-03-10T09:0a:00Z", "2026-03-10T0\u00b2:00:00Z"):
        with pytest.raises(ValueError):
            parse_time(bad)
