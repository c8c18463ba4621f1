"""``awssignin docker``: start the test stack, run every detection's tests on it, stop it.

    awssignin docker up      generate docker/.env if missing, build dist/, docker compose up --wait
    awssignin docker test    the detections' tests on real Splunk and Elasticsearch + Kibana
    awssignin docker down    docker compose down -v (containers and their data; docker/.env stays)

Without a reachable Docker engine each command says so and exits with status 2.
"""

import subprocess
import sys
import time
from pathlib import Path

import click

from . import secrets
from ..cliutil import detections_or_fail as _detections, layout_or_fail as _layout

PROJECT = "awssignin-test"
COMPOSE_FILE = Path("docker") / "compose.yml"
ENV_FILE = Path("docker") / ".env"
APP_MOUNT = "/tmp/awssignin-dist"         # where compose.yml mounts dist/ in the Splunk container
NO_ENGINE_EXIT = 2
# seconds: first pulls (~3 GB) and Splunk's provisioning, as long as compose.yml's Splunk healthcheck
# allows (start_period 25m + 20 retries x 15 s)
UP_TIMEOUT = 1800

# The Splunk images the stack can run, by line (`docker up --splunk-version`); exact tags only.
# 9.4.10: newest 9.4 maintenance release found (fixes SVD-2026-0402 / CVE-2026-20203, which affects
# 9.4.0-9.4.9, Tenable plugin 306560). 10.2.4: fixes SVD-2026-0603 / CVE-2026-20253 (10.2.0-10.2.3).
# Neither tag was pulled from here (no registry access): check `docker pull` on the first run.
SPLUNK_IMAGES = {"9.4": "9.4.10", "10.2": "10.2.4"}
DEFAULT_SPLUNK_LINE = "9.4"
SPLUNK_VERSION = "AWSSIGNIN_SPLUNK_VERSION"    # in docker/.env; compose.yml's splunk image tag


class DockerUnavailable(RuntimeError):
    pass


def engine_problem(run=subprocess.run):
    """None when a Docker engine and Compose v2 answer, else a sentence saying what is missing."""
    try:
        info = run(["docker", "info", "--format", "{{.ServerVersion}}"], stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, timeout=30)
    except FileNotFoundError:
        return "the docker command is not installed"
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 30 s"
    if info.returncode != 0 or not info.stdout.strip():
        detail = (info.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        return "no Docker engine is reachable (%s)" % (detail[-1] if detail else "docker info failed")
    try:
        compose = run(["docker", "compose", "version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    except subprocess.TimeoutExpired:
        return "`docker compose version` did not answer within 30 s"
    if compose.returncode != 0:
        return "Docker Compose v2 (`docker compose`) is not installed"
    return None


def compose_command(root):
    root = Path(root)
    return ["docker", "compose", "-f", str(root / COMPOSE_FILE), "--env-file", str(root / ENV_FILE), "-p", PROJECT]


def _require_engine():
    problem = engine_problem()
    if problem:
        click.echo("awssignin docker: %s. The Docker tier needs a running Docker engine with Compose v2; "
                   "the local runners (`awssignin test`) need none." % problem, err=True)
        sys.exit(NO_ENGINE_EXIT)


def build_artefacts(layout, detections):
    """Build dist/ and return (Splunk app package, Elastic rules NDJSON) paths."""
    from ..build import build_dist
    paths = [Path(p) for p in build_dist(layout, detections)]
    return pick_artefacts(paths)


def pick_artefacts(paths):
    package = [p for p in paths if p.name.startswith("awssignin-") and p.name.endswith(".tgz")]
    rules = [p for p in paths if p.name.endswith(".ndjson")]
    if len(package) != 1 or len(rules) != 1:
        raise click.ClickException("the build did not produce one Splunk package and one rules NDJSON: %s"
                                   % ", ".join(str(p) for p in paths))
    return package[0], rules[0]


def existing_artefacts(layout, values):
    name = values.get(secrets.APP_PACKAGE)
    package = layout.dist / name if name else None
    from ..elastic.rules import rules_path
    rules = rules_path(layout)
    missing = [str(p) for p in (package, rules) if p is None or not p.is_file()]
    if missing:
        raise click.ClickException("not built: %s; run `awssignin docker up` (or drop --no-build)"
                                   % ", ".join(missing or ["the Splunk package"]))
    return package, rules


def splunk_tag(choice):
    """The pinned image tag for ``choice``: a line (``9.4``) or one of the pinned tags itself."""
    if choice in SPLUNK_IMAGES:
        return SPLUNK_IMAGES[choice]
    if choice in SPLUNK_IMAGES.values():
        return choice
    raise click.BadParameter("%r is not a pinned Splunk version; choose one of %s"
                             % (choice, ", ".join("%s (%s)" % kv for kv in sorted(SPLUNK_IMAGES.items()))),
                             param_hint="--splunk-version")


def record_splunk_version(env_path, choice):
    """Write the chosen tag to docker/.env (kept for later `up`, `status`, `down`); returns the tag.
    Without ``choice`` the recorded tag stays, or the default line's tag is recorded."""
    values = secrets.read_env_file(env_path)
    recorded = values.get(SPLUNK_VERSION)
    if choice is None:
        tag = recorded if recorded in SPLUNK_IMAGES.values() else SPLUNK_IMAGES[DEFAULT_SPLUNK_LINE]
    else:
        tag = splunk_tag(choice)
    if recorded != tag:
        values[SPLUNK_VERSION] = tag
        # secrets.set_setting accepts only ports and the package name; the writer keeps the file private
        secrets.write_private(env_path, values)
    return tag


def _env(layout):
    try:
        return secrets.load(layout.root / ENV_FILE)
    except secrets.SecretsError as err:
        raise click.ClickException(str(err))


# -- runners ---------------------------------------------------------------------------------------

def splunk_runner(values, keep_data=False, layout=None):
    """The live Splunk runner; saved search names come from the checkout's packaged
    addon/default/savedsearches.conf (what the built package holds)."""
    from ..project import Layout
    from .splunk import SplunkClient, SplunkDockerRunner, packaged_stanzas
    client = SplunkClient("https://127.0.0.1:%s" % values["AWSSIGNIN_SPLUNK_API_PORT"],
                          "https://127.0.0.1:%s" % values["AWSSIGNIN_SPLUNK_HEC_PORT"],
                          values["SPLUNK_PASSWORD"], values["SPLUNK_HEC_TOKEN"])
    return SplunkDockerRunner(client, packaged_stanzas(layout or Layout()), keep_data=keep_data)


def elastic_runner(values, keep_data=False):
    from .elastic import ElasticDockerRunner, ElasticStack, KibanaClient, elasticsearch_client
    es = elasticsearch_client("http://127.0.0.1:%s" % values["AWSSIGNIN_ES_PORT"], values["ELASTIC_PASSWORD"])
    kibana = KibanaClient("http://127.0.0.1:%s" % values["AWSSIGNIN_KIBANA_PORT"], values["ELASTIC_PASSWORD"])
    return ElasticDockerRunner(ElasticStack(es, kibana), keep_data=keep_data)


class _Broken(object):
    """Stands in for a runner whose set-up failed: every test on its platform reports why."""

    def __init__(self, platform, message):
        self.platform = platform
        self.message = message

    def run(self, detection, records, params=None):
        raise RuntimeError(self.message)

    def close(self):
        pass


def port_open(port, host="127.0.0.1", timeout=2.0):
    """True when something listens on host:port (the containers publish their ports there)."""
    import socket
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


PLATFORM_PORTS = {"splunk": ("AWSSIGNIN_SPLUNK_API_PORT", "AWSSIGNIN_SPLUNK_HEC_PORT"),
                  "elastic": ("AWSSIGNIN_ES_PORT", "AWSSIGNIN_KIBANA_PORT")}


def live_runners(values, platforms, detections, package, rules, keep_data=False, probe=port_open, layout=None):
    """Set up the runners of ``platforms``; a platform that cannot be set up gets a _Broken runner."""
    from .secrets import redact
    runners = {}
    for platform in platforms:
        closed = [values[name] for name in PLATFORM_PORTS[platform] if not probe(values[name])]
        if closed:
            # fail fast: waiting for readiness would take many minutes on a stack that is not there
            runners[platform] = _Broken(platform, "%s is not running (nothing listens on 127.0.0.1:%s); start "
                                        "the stack with `awssignin docker up`" % (platform, ", ".join(closed)))
            continue
        try:
            if platform == "splunk":
                runner = splunk_runner(values, keep_data, layout)
                runner.setup(app_package="%s/%s" % (APP_MOUNT, Path(package).name), detections=detections)
            else:
                runner = elastic_runner(values, keep_data)
                runner.setup(rules_path=Path(rules))
        except Exception as err:  # shown per test; the other platform still runs
            runner = _Broken(platform, redact("%s set-up failed: %s: %s" % (platform, type(err).__name__, err), values))
        runners[platform] = runner
    return runners


def run_live_tests(layout, detections, runners, on_outcome=None, redact_values=None):
    """Every planned (detection, test, platform) on the live runners: harness.testing.run_tests with
    the live runners in place of the local ones (same fixtures, comparison and Outcome records)."""
    from ..testing import run_tests

    redact = (lambda text: secrets.redact(text, redact_values)) if redact_values else None
    return run_tests(layout, detections, list(runners), on_outcome=on_outcome, runners=runners, redact=redact)


# -- commands --------------------------------------------------------------------------------------

@click.group("docker")
def docker():
    """Real Splunk and Elasticsearch + Kibana containers (docker/compose.yml) running the same tests."""


@docker.command()
@click.option("--build/--no-build", default=True, show_default=True, help="Build dist/ first.")
@click.option("--timeout", default=UP_TIMEOUT, show_default=True, help="Seconds to wait for healthy containers.")
@click.option("--splunk-version", metavar="LINE",
              help="Splunk image: %s (default: the one recorded in docker/.env, else %s). Changing it "
                   "recreates the Splunk container; run `awssignin docker down` first to start from empty data."
                   % (" or ".join("%s (%s)" % kv for kv in sorted(SPLUNK_IMAGES.items())), DEFAULT_SPLUNK_LINE))
def up(build, timeout, splunk_version):
    """Start the stack: secrets in docker/.env (generated once), the app built, containers healthy."""
    _require_engine()
    layout = _layout()
    env_path = layout.root / ENV_FILE
    try:
        values, created = secrets.ensure_env_file(env_path, layout.root)
    except secrets.SecretsError as err:
        raise click.ClickException(str(err))
    if created:
        click.echo("generated %s: %s (git-ignored, mode 0600)" % (ENV_FILE, ", ".join(created)))
    tag = record_splunk_version(env_path, splunk_version)
    if build:
        package, _ = build_artefacts(layout, _detections(layout))
        click.echo("built %s" % package.relative_to(layout.root))
        secrets.set_setting(env_path, secrets.APP_PACKAGE, package.name)
    else:
        existing_artefacts(layout, secrets.read_env_file(env_path))
    cmd = compose_command(layout.root) + ["up", "-d", "--wait", "--wait-timeout", str(int(timeout))]
    click.echo("starting Splunk, Elasticsearch and Kibana (first start pulls ~3 GB and takes minutes)...")
    if subprocess.call(cmd) != 0:
        raise click.ClickException("docker compose up failed; `docker compose -p %s logs` shows why" % PROJECT)
    values = secrets.load(env_path)
    click.echo("Splunk Web  http://127.0.0.1:%s  (splunk/splunk:%s; admin; password SPLUNK_PASSWORD in %s)"
               % (values["AWSSIGNIN_SPLUNK_WEB_PORT"], tag, ENV_FILE))
    click.echo("Kibana      http://127.0.0.1:%s  (elastic; password ELASTIC_PASSWORD in %s)"
               % (values["AWSSIGNIN_KIBANA_PORT"], ENV_FILE))


@docker.command("test")
@click.argument("ids", nargs=-1)
@click.option("--platform", type=click.Choice(("splunk", "elastic", "all")), default="all", show_default=True)
@click.option("--build/--no-build", default=True, show_default=True,
              help="Rebuild dist/ first; the runners reinstall the app and re-import the rules from it.")
@click.option("--junit", type=click.Path(dir_okay=False, writable=True), help="Also write a JUnit XML report.")
@click.option("--keep-data", is_flag=True, help="Leave the test index / data stream and preview alerts in place.")
@click.option("-v", "--verbose", is_flag=True, help="Show the alerts of passing tests too.")
def test_cmd(ids, platform, build, junit, keep_data, verbose):
    """Run the detections' tests (all, or IDS) on the running stack and print what fired where."""
    _require_engine()
    layout = _layout()
    dets = _detections(layout, list(ids))
    env_path = layout.root / ENV_FILE
    values = _env(layout)
    if build:
        package, rules = build_artefacts(layout, _detections(layout))
        secrets.set_setting(env_path, secrets.APP_PACKAGE, package.name)
    else:
        package, rules = existing_artefacts(layout, values)
    platforms = ["splunk", "elastic"] if platform == "all" else [platform]
    from ..testing import write_junit
    from ..report import outcome_table, wide_console
    # the table `awssignin test` prints, on the same console
    console = wide_console()
    start = time.perf_counter()
    console.print("setting up %s (waits for the containers, installs the app / imports the rules)..."
                  % " and ".join(platforms), highlight=False)
    runners = live_runners(values, platforms, dets, package, rules, keep_data, layout=layout)
    try:
        outcomes = run_live_tests(layout, dets, runners, redact_values=values)
    finally:
        for runner in runners.values():
            try:
                runner.close()
            except Exception as err:
                console.print("warning: %s clean-up failed: %s" % (runner.platform, secrets.redact(str(err), values)),
                              highlight=False, markup=False)
    outcome_table(console, outcomes, verbose)
    if junit:
        write_junit(outcomes, junit)
    from ..geoip import NOT_EVALUATED
    skipped = [o for o in outcomes if o.status == NOT_EVALUATED]
    failed = [o for o in outcomes if o.status not in ("pass", NOT_EVALUATED)]
    if skipped:
        console.print("%d not evaluated (the geo detections: the live platforms' own GeoIP data does not "
                      "place the fixtures' addresses)" % len(skipped), highlight=False)
    console.print("%d passed, %d failed" % (len(outcomes) - len(failed) - len(skipped), len(failed)),
                  highlight=False)
    console.print("(%d detections on live %s, %.1fs)" % (len(dets), " and ".join(platforms),
                                                          time.perf_counter() - start), highlight=False)
    if failed:
        sys.exit(1)


def _compose_env(layout):
    """The environment for compose commands that do not start anything (down, ps): compose.yml
    requires AWSSIGNIN_APP_PACKAGE, which is unknown until the first build."""
    import os
    env = dict(os.environ)
    values = secrets.read_env_file(layout.root / ENV_FILE)
    if secrets.APP_PACKAGE not in values and secrets.APP_PACKAGE not in env:
        env[secrets.APP_PACKAGE] = "awssignin-0.0.0.tgz"
    return env


@docker.command()
@click.option("--keep-volumes", is_flag=True, help="Keep the containers' data volumes (down without -v).")
def down(keep_volumes):
    """Stop and remove the stack and its data (docker/.env is kept for the next `up`)."""
    _require_engine()
    layout = _layout()
    cmd = compose_command(layout.root) + ["down"] + ([] if keep_volumes else ["-v"])
    if not (layout.root / ENV_FILE).exists():
        # compose refuses to read compose.yml without the variables; down needs none of their values
        raise click.ClickException("%s is missing: nothing was started from this checkout" % ENV_FILE)
    if subprocess.call(cmd, env=_compose_env(layout)) != 0:
        raise click.ClickException("docker compose down failed")


@docker.command()
def status():
    """Show the stack's containers and their health."""
    _require_engine()
    layout = _layout()
    if not (layout.root / ENV_FILE).exists():
        raise click.ClickException("%s is missing: run `awssignin docker up`" % ENV_FILE)
    sys.exit(subprocess.call(compose_command(layout.root) + ["ps"], env=_compose_env(layout)))
