"""The alert schema (DESIGN.md) as the harness prints and compares it."""

import json

KEYS = ("detection", "title", "severity", "risk_score", "mitre", "platform",
        "first_seen", "last_seen", "group", "count", "event_ids")


def to_json(alert):
    """One line of ``replay --format jsonl``: exactly the schema's keys, in the schema's order."""
    return json.dumps(dict((k, alert[k]) for k in KEYS), separators=(",", ":"), sort_keys=False)


def group_text(group):
    return ", ".join("%s=%s" % (k, v) for k, v in sorted(group.items()))


def sort_key(alert):
    return (alert["first_seen"], alert["detection"], alert["platform"], group_text(alert["group"]), alert["event_ids"])
