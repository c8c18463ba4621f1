"""Live tests against docker/compose.yml (pytest-docker), marked ``docker``.

pytest-docker has no skip of its own: without an engine its compose call raises and every test would
error. ``docker_engine`` probes the engine first and skips with a message that says so; only then is
``docker_services`` (which runs ``docker compose up --wait``) requested.

AWSSIGNIN_DOCKER_SPLUNK=9.4 or 10.2 chooses the Splunk image (as `awssignin docker up
--splunk-version` does). Set AWSSIGNIN_SKIP_DOCKER=1 to skip these tests on a machine that has an engine, and
AWSSIGNIN_DOCKER_KEEP=1 to leave the stack running afterwards (the next session reuses it: compose
up on a running, healthy stack returns at once).
"""

import os
import warnings
from pathlib import Path

import pytest

from harness.containers import cli as docker_cli
from harness.containers import secrets
from harness.project import Layout

ROOT = Path(__file__).resolve().parents[2]
NO_ENGINE = "no Docker engine: live Splunk/Elastic tests not run"


@pytest.fixture(scope="session")
def layout():
    return Layout(ROOT)


@pytest.fixture(scope="session")
def docker_engine():
    if os.environ.get("AWSSIGNIN_SKIP_DOCKER"):
        pytest.skip("AWSSIGNIN_SKIP_DOCKER is set: live Splunk/Elastic tests not run")
    problem = docker_cli.engine_problem()
    if problem:
        pytest.skip("%s (%s)" % (NO_ENGINE, problem))
    for module, package in (("pytest_docker", "pytest-docker"), ("elasticsearch", "elasticsearch")):
        try:
            __import__(module)
        except ImportError:
            pytest.skip("%s is not installed (pip install -e '.[docker]'): live Splunk/Elastic tests not run" % package)


@pytest.fixture(scope="session")
def stack_inputs(docker_engine, layout):
    """docker/.env (generated if missing) and the built artefacts compose.yml and the runners use."""
    from harness.detections import load_all

    env_path = ROOT / docker_cli.ENV_FILE
    secrets.ensure_env_file(env_path, ROOT)
    # AWSSIGNIN_DOCKER_SPLUNK=10.2 picks the image line, like `awssignin docker up --splunk-version`
    docker_cli.record_splunk_version(env_path, os.environ.get("AWSSIGNIN_DOCKER_SPLUNK") or None)
    package, rules = docker_cli.build_artefacts(layout, load_all(layout.detections))
    secrets.set_setting(env_path, secrets.APP_PACKAGE, package.name)
    return secrets.load(env_path), package, rules


@pytest.fixture(scope="session")
def docker_compose_command():
    return 'docker compose --env-file "%s"' % (ROOT / docker_cli.ENV_FILE)


@pytest.fixture(scope="session")
def docker_compose_file():
    return str(ROOT / docker_cli.COMPOSE_FILE)


@pytest.fixture(scope="session")
def docker_compose_project_name():
    # the same project as `awssignin docker up`: the fixed 127.0.0.1 ports allow one stack at a time
    return docker_cli.PROJECT


@pytest.fixture(scope="session")
def docker_setup():
    return ["up -d --wait --wait-timeout %d" % docker_cli.UP_TIMEOUT]


@pytest.fixture(scope="session")
def docker_cleanup():
    return [] if os.environ.get("AWSSIGNIN_DOCKER_KEEP") else ["down -v"]


@pytest.fixture(scope="session")
def live_stack(docker_engine, stack_inputs, request):
    """The running stack: requests docker_services only after the engine probe passed."""
    request.getfixturevalue("docker_services")
    return stack_inputs


@pytest.fixture(scope="session")
def live_runners(live_stack, layout):
    from harness.detections import load_all

    values, package, rules = live_stack
    runners = docker_cli.live_runners(values, ["splunk", "elastic"], load_all(layout.detections), package, rules,
                                      layout=layout)
    yield runners
    for runner in runners.values():
        try:
            runner.close()
        except Exception as err:  # clean-up trouble must not turn passed tests into errors
            warnings.warn("%s clean-up failed: %s" % (runner.platform, secrets.redact(str(err), live_stack[0])))
