"""`awssignin test` runs the local runners on several threads: the results must not depend on it."""

from harness.detections import load_all
from harness.project import Layout
from harness.testing import run_tests


def test_threaded_runs_give_the_sequential_outcomes_in_plan_order():
    layout = Layout()
    dets = [d for d in load_all(layout.detections)
            if d.id in ("root_console_brute_force", "token_relay", "concurrent_logins_multiple_ips")]
    seen = []
    threaded = run_tests(layout, dets, workers=4, on_outcome=seen.append)
    sequential = run_tests(layout, dets, workers=1)

    def summary(outcomes):
        return [(o.detection, o.test, o.platform, o.status,
                 sorted((sorted(a["group"].items(), key=str), sorted(a["event_ids"])) for a in o.actual))
                for o in outcomes]

    assert summary(threaded) == summary(sequential) and seen == threaded
    assert {o.status for o in threaded} == {"pass"} and len({o.platform for o in threaded}) == 2
