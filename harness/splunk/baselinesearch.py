"""Splunk's side of ``new_terms`` detections: the baseline store, the search that keeps it, and the
stages the alert adds (``login_new_country_for_user``).

The engine decides what is new (awssignin/baseline.py); Splunk only has to carry the baseline from
one run to the next. The store is a KV store collection, not a CSV lookup in the app's ``lookups/``:
an app update overwrites or deletes the files of the app directory it does not ship, lookups
included, unless the admin protects them ("Protect content during app updates", Splunk Enterprise
Updating manual: "Without the setting, all locally-generated content will be deleted or overwritten"),
and the project never overwrites users' state. A collection lives outside the app directory.
collections.conf.spec / transforms.conf.spec (Splunk 9.4): a ``[<collection>]`` stanza in
collections.conf defines the collection; a transforms.conf stanza with ``external_type = kvstore``,
``collection = <name>`` and ``fields_list`` makes it a lookup that ``inputlookup`` and
``outputlookup`` name by the stanza (Search Reference, inputlookup / outputlookup: "<tablename>: the
name of the lookup table as specified by a stanza name in transforms.conf").

One row per group (``baseline_detection``, ``baseline_group`` as the alert rows' compact JSON group,
``baseline_last_seen`` in epoch seconds, and the ``group_<name>`` fields for people reading it).

- The alert: ``... | iplocation sourceIPAddress | inputlookup append=true <lookup> | awssignin
  detection=<id> indexed_within=...``. ``inputlookup append=true`` appends the collection's rows to the
  events ("If set to true, the data returned from the lookup file is appended to the current set of
  results rather than replacing it"); the command reads rows carrying ``baseline_group`` as baseline
  entries (seeds), everything else as events.
- The baseline search (hourly, ``... | awssignin detection=<id> output=baseline | outputlookup
  <lookup>``): the same input, and the command returns the merged baseline (every group's latest time,
  groups unseen for a year dropped), which replaces the collection. It reads the index-time slice
  [-(lag + interval), -lag) (``baseline_lag``): slices of consecutive runs tile time, so every event enters the baseline
  once, and only that lag after it was indexed, when the alert runs (every 10 minutes, each reading the
  events indexed in its own 10 minutes) have already judged it. Were it absorbed first, the alert would
  find its own event in the baseline and call it known.
- The alert's event-time range reaches back over what the baseline has not absorbed yet (one baseline
  interval plus the lag) plus the lateness budget: its schedule is derived as a correlation whose window
  is ``coverage_gap`` (appbuild.schedule).
- Bootstrap: the baseline search run once by hand over the history (``bootstrap_search``), before the
  alert is enabled; without it every user's first login from each country alerts once.
"""

from . import appbuild

BASELINE_INTERVAL = 3600      # the baseline search runs hourly
LAG_MARGIN = 600              # beyond the latest an alert run can judge an event (scheduler delays)
BASELINE_SUFFIX = " - Baseline"
OUTPUT_OPTION = "output=baseline"
FIELDS = ("baseline_detection", "baseline_group", "baseline_last_seen")


def is_new_terms(detection):
    return detection.data["logic"]["type"] == "new_terms"


def alert_interval(detection):
    """Seconds between the alert's runs: its splunk.cron, else every 10 minutes (each run then judges
    the events indexed in its own slice; a longer window would not change how often it runs)."""
    return appbuild.cron_interval(detection) or appbuild.run_interval(0)


def baseline_lag(detection):
    """How long after it is indexed an event enters the baseline: after every alert run that may judge
    it (an alert run reads up to SEARCHABLE_DELAY before its time, over one interval), plus a margin."""
    return appbuild.SEARCHABLE_DELAY + alert_interval(detection) + LAG_MARGIN


def coverage_gap(detection):
    """How far the alert's events must reach back beyond what the baseline has absorbed: one baseline
    interval (absorbed hourly) plus the lag."""
    return BASELINE_INTERVAL + baseline_lag(detection)


def lookup_name(detection):
    """The baseline lookup of a new_terms detection (``splunk.baseline_lookup``)."""
    name = (detection.data.get("splunk") or {}).get("baseline_lookup")
    if not name:
        raise detection.error("splunk.baseline_lookup", "a new_terms detection needs the name of its Splunk "
                              "baseline lookup (a KV store collection the app ships)")
    return name


def lookup_fields(detection):
    return list(FIELDS) + appbuild.group_fields(detection)


def alert_stages(detection):
    """The stages the alert runs between the enrichment and the command."""
    return ["inputlookup append=true %s" % lookup_name(detection)] if is_new_terms(detection) else []


def baseline_stanza_name(detection):
    return appbuild.STANZA_PREFIX + detection.id + BASELINE_SUFFIX


def _minutes(seconds):
    return "%dm" % (seconds // 60)


def baseline_search_text(detection):
    return "%s | %s detection=%s %s | outputlookup %s" % (
        appbuild.search_head(detection), appbuild.COMMAND, detection.id, OUTPUT_OPTION, lookup_name(detection))


def bootstrap_search(detection):
    """What addon/README.md tells an admin to run once, over the history, before enabling the alert and
    the baseline search: the baseline search over the last ``window`` up to its lag (the hourly runs
    then absorb every event indexed from one lag before the bootstrap on)."""
    history = detection.data["logic"]["window"]
    base = "\n".join(line.rstrip() for line in detection.data["splunk"]["search"].strip().split("\n"))
    head = appbuild.search_head(detection, "%s earliest=-%s@d latest=-%s@m" % (
        base, history, _minutes(baseline_lag(detection))))
    return "%s | %s detection=%s %s | outputlookup %s" % (
        head, appbuild.COMMAND, detection.id, OUTPUT_OPTION, lookup_name(detection))


def baseline_settings(detection):
    late = appbuild.LATENESS
    lag = baseline_lag(detection)
    slice_start = lag + BASELINE_INTERVAL
    return [
        ("description", "%s: keeps the baseline of %s (the KV store lookup %s) for its alert. Enable it with "
                        "the alert, after running the bootstrap search in addon/README.md once."
                        % (appbuild.display_title(detection) + BASELINE_SUFFIX, appbuild.stanza_name(detection),
                           lookup_name(detection))),
        ("search", baseline_search_text(detection)),
        ("disabled", "1"),
        ("enableSched", "1"),
        ("cron_schedule", "0 * * * *"),
        ("dispatch.earliest_time", "-%s@m" % _minutes(slice_start + late)),
        ("dispatch.latest_time", "now"),
        ("dispatch.index_earliest", "-%s@m" % _minutes(slice_start)),
        ("dispatch.index_latest", "-%s@m" % _minutes(lag)),
        ("schedule_window", "auto"),
        ("allow_skew", "100%"),
        ("realtime_schedule", "0"),
        ("alert.track", "0"),
        ("request.ui_dispatch_app", appbuild.UI_DISPATCH_APP),
        ("request.ui_dispatch_view", "search"),
    ]


def baseline_stanzas(detections):
    return [(baseline_stanza_name(d), "Baseline of %s (hourly; the alert reads it)" % d.id, baseline_settings(d))
            for d in sorted(detections, key=lambda d: d.id) if is_new_terms(d)]


def collections_conf(detections):
    header = appbuild.GENERATED_HEADER.format(source="detections/*.yml", name="collections.conf")
    stanzas = [(lookup_name(d), "Baseline of %s (one row per group: its last time seen)." % d.id,
                [("field.baseline_last_seen", "number")])
               for d in sorted(detections, key=lambda d: d.id) if is_new_terms(d)]
    return appbuild.render_conf(header, stanzas)


def transforms_conf(detections):
    header = appbuild.GENERATED_HEADER.format(source="detections/*.yml", name="transforms.conf")
    stanzas = [(lookup_name(d), "The KV store lookup of the baseline of %s." % d.id, [
        ("external_type", "kvstore"),
        ("collection", lookup_name(d)),
        ("fields_list", ", ".join(["_key"] + lookup_fields(d))),
    ]) for d in sorted(detections, key=lambda d: d.id) if is_new_terms(d)]
    return appbuild.render_conf(header, stanzas)
