"""``awssignin lint``: everything that can be wrong with the detections before anything runs.

- every detection file against the schema and the engine's predicate language;
- every shipped Splunk search, after macro expansion, within the SPL subset the local evaluator
  runs (so a passing local test says something about the real search);
- every Elastic query within what the local KQL/EQL evaluators run, on mapped fields only (KQL on an
  unmapped field silently matches nothing in Kibana), and every exported rule against the Kibana
  rule schema;
- each platform's artefact equivalent to the logic over a generated space of records
  (harness/equivalence.py), except where a difference is declared;
- every detection's shipped content recorded in detections/versions.lock.json (harness/versions.py);
- the committed generated files up to date with the detection files.
"""

from pathlib import Path

from .detections import DetectionError, load_file


def lint_all(layout):
    problems = []
    dets = []
    files = sorted(Path(layout.detections).glob("*.yml"))
    for f in files:
        try:
            dets.append(load_file(f, layout.fixtures))
        except DetectionError as err:
            problems.append(str(err))
    seen = {}
    for det in dets:
        if det.id in seen:
            problems.append(str(det.error("id", "duplicate id, also in %s" % seen[det.id])))
        seen[det.id] = det.path
    for check in (_splunk, _elastic, _equivalence):
        problems.extend(check(layout, dets))
    if not problems:  # the generated files carry the versions: check the lock first
        from .versions import check as check_versions
        problems.extend(check_versions(layout, dets))
    if not problems:
        from .build import stale_files
        for path in stale_files(layout, dets):
            problems.append("%s: out of date with the detection files; run `awssignin build`"
                            % path.relative_to(layout.root))
    return problems, len(files)


def _splunk(layout, dets):
    from .splunk.lint import lint_searches
    return lint_searches(layout, dets)


def _elastic(layout, dets):
    from .elastic.lint import lint_rules
    return lint_rules(layout, dets)


def _equivalence(layout, dets):
    from .equivalence import check_all
    return [str(p) for p in check_all(dets, layout.fixtures)]
