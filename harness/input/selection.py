"""--since/--until/--account/--region: which records (and which S3 objects) a run reads.

Records outside the selection are not skips (nothing is wrong with them): they are counted under
``records outside the selection``. A record whose eventTime the filter cannot read is passed on, for
the reader's and the engine's own checks to judge.
"""

import datetime as dt
import re

from .errors import InputError

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


def _parse(text, option, end_of_day):
    if isinstance(text, dt.datetime):
        return text.astimezone(dt.timezone.utc).replace(tzinfo=None) if text.tzinfo else text
    text = text.strip()
    try:
        if _DATE.match(text):
            day = dt.datetime.strptime(text, "%Y-%m-%d")
            return day + dt.timedelta(days=1) if end_of_day else day
        value = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise InputError("%s: expected a date (2026-03-10) or a UTC time (2026-03-10T09:00:00Z), got %r"
                         % (option, text))
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def _values(items):
    out = set()
    for item in items or ():
        out.update(v.strip() for v in item.split(",") if v.strip())
    return out


class Selection(object):
    """``since`` (inclusive) and ``until`` (exclusive; a date means the end of that day), as naive UTC."""

    def __init__(self, since=None, until=None, accounts=None, regions=None):
        self.since = _parse(since, "--since", False) if since else None
        self.until = _parse(until, "--until", True) if until else None
        if self.since and self.until and self.since >= self.until:
            raise InputError("--since must be before --until")
        self.accounts = _values([accounts] if isinstance(accounts, str) else accounts)
        self.regions = _values([regions] if isinstance(regions, str) else regions)
        self._since = self.since.strftime("%Y-%m-%dT%H:%M:%S") if self.since else None
        self._until = self.until.strftime("%Y-%m-%dT%H:%M:%S") if self.until else None
        self.active = bool(self.since or self.until or self.accounts or self.regions)

    def wants(self, record):
        """False when the record is outside the selection (only ever for values the filter can read)."""
        if self._since or self._until:
            when = record.get("eventTime")
            if isinstance(when, str) and _TIME.match(when):
                when = when[:19]
                if self._since and when < self._since:
                    return False
                if self._until and when >= self._until:
                    return False
        if self.accounts:
            account = record.get("recipientAccountId")
            if isinstance(account, str) and account not in self.accounts:
                return False
        if self.regions:
            region = record.get("awsRegion")
            if isinstance(region, str) and region not in self.regions:
                return False
        return True

    def days(self, slack_days=1):
        """The UTC days whose CloudTrail folders can hold selected records, or None when unbounded.

        A file is filed under the day it was delivered and holds records from before its delivery
        (CloudTrail user guide, "CloudTrail log file name format"), typically about 5 minutes before
        ("Getting and viewing your CloudTrail log files"): so the folders from ``since``'s day to the
        day after ``until``."""
        if not (self.since and self.until):
            return None
        first = self.since.date()
        last = (self.until - dt.timedelta(microseconds=1)).date() + dt.timedelta(days=slack_days)
        out = []
        day = first
        while day <= last:
            out.append(day)
            day += dt.timedelta(days=1)
        return out
