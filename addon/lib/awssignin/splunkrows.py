"""Alerts as the rows the ``awssignin`` search command returns to Splunk.

Shared by the command (addon/bin/awssignin.py) and replay's in-process Splunk path, which applies
the saved search's trailing filter macro to the same rows.
"""

import json

from .timeutil import parse_time

ALERT_FIELDS = ("_time", "detection", "title", "severity", "risk_score", "mitre", "platform",
                "first_seen", "last_seen", "count", "event_ids", "group")

_compact_json = json.JSONEncoder(separators=(",", ":")).encode


def row_columns(group_names):
    """The output columns: the alert's fields, then ``group_<name>`` for every group name in use."""
    columns = list(ALERT_FIELDS)
    for name in group_names:
        if "group_" + name not in columns:
            columns.append("group_" + name)
    return columns


def alert_row(alert, columns, epochs):
    """One output row: the alert's fields, ``group`` as compact JSON and one ``group_<name>`` per group
    field (so ``alert.suppress.fields`` can name them), ``_time`` = last_seen as epoch seconds. Every
    column is set, to None when the alert has no such group field (``epochs`` caches time parsing)."""
    last_seen = alert["last_seen"]
    epoch = epochs.get(last_seen)
    if epoch is None:
        epoch = parse_time(last_seen)
        epoch = epochs[last_seen] = int(epoch) if epoch == int(epoch) else epoch
    row = dict.fromkeys(columns)
    row.update(alert)
    group = alert["group"]
    row["_time"] = epoch
    row["group"] = _compact_json(group)
    for name, value in group.items():
        row["group_" + name] = value
    return row


def rows_for(alerts, group_names=()):
    """Rows newest first, every row carrying every column: splunklib takes a chunk's columns from its
    first record and silently drops the others (notes/splunk.md §1.4)."""
    names = list(group_names)
    for alert in alerts:
        for name in alert["group"]:
            if name not in names:
                names.append(name)
    columns = row_columns(names)
    epochs = {}
    rows = [alert_row(a, columns, epochs) for a in alerts]
    rows.sort(key=lambda r: (r["_time"], r["detection"], r["group"], r["event_ids"]), reverse=True)
    return rows
