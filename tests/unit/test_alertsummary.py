"""The noise figures of replay's summary: alerts per day, busiest day, top groups, bounded memory."""

from harness.alertsummary import AlertSummary


def alert(day, group, detection="d", platform="splunk"):
    return {"platform": platform, "detection": detection, "first_seen": "%sT09:00:00Z" % day, "group": group}


def test_alerts_per_day_and_top_groups():
    summary = AlertSummary()
    for _ in range(3):
        summary.add(alert("2026-03-10", {"user": "alice"}))
    summary.add(alert("2026-03-10", {"user": "bob"}))
    summary.add(alert("2026-03-11", {"user": "bob"}))
    summary.add(alert("2026-03-11", {"user": "carol"}, platform="elastic"))
    lines = summary.lines()
    assert "alerts (splunk): d 5" in lines
    assert "alerts per day (splunk): 2026-03-10 4, 2026-03-11 1" in lines
    assert "alerts per day (elastic): 2026-03-11 1" in lines
    assert "  splunk d: 5 alerts on 2 days (busiest 2026-03-10: 4); top groups: user=alice: 3; user=bob: 2" in lines


def test_top_groups_stay_bounded_and_say_when_they_are_estimates():
    summary = AlertSummary(group_counters=10)
    for i in range(1000):
        summary.add(alert("2026-03-10", {"user": "noisy"}))
        summary.add(alert("2026-03-10", {"user": "u%d" % i}))
    groups = summary.groups[("splunk", "d")]
    assert len(groups.counts) == 10 and groups.approximate
    line = [l for l in summary.lines() if l.startswith("  splunk d:")][0]
    # the heavy hitter is still first (space-saving never undercounts it), marked as an estimate
    assert "top groups: ~user=noisy: " in line


def test_no_alerts():
    assert AlertSummary().lines() == ["alerts: none"]
