"""What replay's summary says about the alerts: per detection, per day, and the noisiest groups.

A user deciding whether to enable a detection wants to see its noise: how many alerts a day, and
which groups (users, source addresses) raise most of them. Memory stays bounded however many
groups there are: the top groups are counted with the space-saving algorithm (Metwally, Agrawal,
El Abbadi, "Efficient computation of frequent and top-k elements in data streams", 2005), exact
while a detection has at most ``GROUP_COUNTERS`` distinct groups and an upper bound beyond that
(marked "~" in the summary).
"""

from collections import Counter

from . import alerts as alert_schema

GROUP_COUNTERS = 1000
TOP_GROUPS = 5


class _TopGroups(object):
    """Space-saving counters: ``counts`` holds at most ``capacity`` groups."""

    __slots__ = ("capacity", "counts", "approximate")

    def __init__(self, capacity):
        self.capacity = capacity
        self.counts = {}
        self.approximate = False

    def add(self, key):
        counts = self.counts
        if key in counts or len(counts) < self.capacity:
            counts[key] = counts.get(key, 0) + 1
            return
        # evict the smallest counter; the newcomer inherits its count (an upper bound)
        smallest = min(counts, key=counts.get)
        counts[key] = counts.pop(smallest) + 1
        self.approximate = True

    def top(self, n):
        return sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


class AlertSummary(object):
    def __init__(self, group_counters=GROUP_COUNTERS):
        self.group_counters = group_counters
        self.by_detection = Counter()        # (platform, detection) -> alerts
        self.by_day = {}                     # platform -> Counter(day -> alerts)
        self.days = {}                       # (platform, detection) -> Counter(day -> alerts)
        self.groups = {}                     # (platform, detection) -> _TopGroups

    def add(self, alert):
        key = (alert["platform"], alert["detection"])
        day = alert["first_seen"][:10]
        self.by_detection[key] += 1
        self.by_day.setdefault(alert["platform"], Counter())[day] += 1
        self.days.setdefault(key, Counter())[day] += 1
        top = self.groups.get(key)
        if top is None:
            top = self.groups[key] = _TopGroups(self.group_counters)
        top.add(alert_schema.group_text(alert["group"]))

    def lines(self, top=TOP_GROUPS, max_days=31):
        """The summary's lines about alerts (plain text: the caller escapes what it prints)."""
        if not self.by_detection:
            return ["alerts: none"]
        out = []
        for platform in sorted(self.by_day):
            items = ["%s %d" % (det, n) for (p, det), n in sorted(self.by_detection.items()) if p == platform]
            out.append("alerts (%s): %s" % (platform, ", ".join(items)))
            days = sorted(self.by_day[platform].items())
            shown = ", ".join("%s %d" % kv for kv in days[:max_days])
            more = " ... (%d more days)" % (len(days) - max_days) if len(days) > max_days else ""
            out.append("alerts per day (%s): %s%s" % (platform, shown, more))
        for (platform, det), n in sorted(self.by_detection.items()):
            days = self.days[(platform, det)]
            busiest_day, busiest = max(days.items(), key=lambda kv: (kv[1], kv[0]))
            groups = self.groups[(platform, det)]
            mark = "~" if groups.approximate else ""
            tops = "; ".join("%s%s: %d" % (mark, g or "(no group)", c) for g, c in groups.top(top))
            out.append("  %s %s: %d alert%s on %d day%s (busiest %s: %d); top groups: %s"
                       % (platform, det, n, "" if n == 1 else "s", len(days), "" if len(days) == 1 else "s",
                          busiest_day, busiest, tops))
        return out
