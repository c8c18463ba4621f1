"""Lint of the Splunk artefacts: every shipped saved search, macros expanded, must be SPL the local
runner evaluates (otherwise a passing local test would say nothing about the real search)."""

from .runner import RunnerError, SplunkLocalRunner


def lint_searches(layout, detections):
    runner = SplunkLocalRunner(layout)
    problems = []
    for det in detections:
        try:
            runner.plan(det)
        except RunnerError as err:
            problems.append(str(det.error("splunk.search", str(err))))
    return problems
