"""``deploy elastic --targets FILE``: the file's validation (file, line, field) and a deploy to
several Kibanas with one result table."""

import textwrap

import pytest
from click.testing import CliRunner

from harness.elastic import deploy as D
from harness.elastic.kibana_api import DeployError
from harness.elastic.targets import load_targets

from kibana_standin import KibanaStandIn, small_pack

PROD_KEY = "cHJvZDpwcm9kLXNlY3JldC1rZXk="
LAB_PASSWORD = "lab-pa55!word"


def write(tmp_path, text, name="targets.yml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def stacks():
    prod = KibanaStandIn(api_key=PROD_KEY, spaces=("default", "secops"))
    lab = KibanaStandIn(basic=("lab-deployer", LAB_PASSWORD))
    yield prod, lab
    prod.close()
    lab.close()


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory):
    return small_pack(tmp_path_factory.mktemp("rules") / "rules.ndjson", index=["logs-aws.cloudtrail-*"])


def targets_text(prod, lab):
    return """\
    - name: prod-secops
      kibana_url: %s
      space: secops
      index: [logs-aws.cloudtrail-prod-*]
      api_key_env: PROD_KIBANA_KEY
    - name: lab
      kibana_url: %s
      username_env: LAB_USER
      password_env: LAB_PASSWORD
    """ % (prod.url, lab.url)


def test_deploys_to_each_target_with_its_own_credentials_space_and_index(stacks, rules_file, tmp_path, env):
    prod, lab = stacks
    path = write(tmp_path, targets_text(prod, lab))
    result = CliRunner().invoke(D.deploy_elastic, ["--targets", str(path), "--rules", str(rules_file)],
                                env={"PROD_KIBANA_KEY": PROD_KEY, "LAB_USER": "lab-deployer",
                                     "LAB_PASSWORD": LAB_PASSWORD}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert sorted(prod.rules("secops")) == ["r-0", "r-1", "r-2"] and not prod.rules("default")
    assert {tuple(r["index"]) for r in prod.rules("secops").values()} == {("logs-aws.cloudtrail-prod-*",)}
    assert {tuple(r["index"]) for r in lab.rules().values()} == {("logs-aws.cloudtrail-*",)}
    table = result.output[result.output.index("Targets"):]
    assert "prod-secops" in table and "%s/s/secops" % prod.url in table and "lab" in table
    assert table.count(" ok ") == 2
    assert PROD_KEY not in result.output and LAB_PASSWORD not in result.output


def test_one_target_that_cannot_run_does_not_stop_the_others(stacks, rules_file, tmp_path, env):
    prod, lab = stacks
    path = write(tmp_path, targets_text(prod, lab))
    result = CliRunner().invoke(D.deploy_elastic, ["--targets", str(path), "--rules", str(rules_file)],
                                env={"LAB_USER": "lab-deployer", "LAB_PASSWORD": LAB_PASSWORD},
                                catch_exceptions=False)
    assert result.exit_code == 2
    assert "target prod-secops %s/s/secops: PROD_KIBANA_KEY is not set" % prod.url in result.output
    assert sorted(lab.rules()) == ["r-0", "r-1", "r-2"] and prod.requests == []
    assert "could not run" in result.output


def test_targets_and_kibana_url_exclude_each_other(stacks, rules_file, tmp_path, env):
    prod, lab = stacks
    path = write(tmp_path, targets_text(prod, lab))
    result = CliRunner().invoke(D.deploy_elastic, ["--targets", str(path), "--kibana-url", prod.url,
                                                   "--rules", str(rules_file)], catch_exceptions=False)
    assert result.exit_code == 2 and "drop --kibana-url and --space" in result.output


@pytest.mark.parametrize("text, where, words", [
    ("name: x\n", "targets.yml", "a non-empty YAML list of targets"),
    ("- kibana_url: https://k.example\n  api_key_env: K\n", "targets.yml:1: [0]", "required"),
    ("- name: a\n  kibana_url: https://k.example\n  colour: red\n", "targets.yml:3: [0].colour", "unknown field"),
    ("- name: a\n  kibana_url: ftp://k.example\n", "targets.yml:2: [0].kibana_url", "http:// or https://"),
    ("- name: a\n  kibana_url: https://k.example\n  space: Sec Ops\n", "targets.yml:3: [0].space", "invalid space id"),
    ("- name: a\n  kibana_url: https://k.example\n- name: a\n  kibana_url: https://j.example\n",
     "targets.yml:3: [1].name", "duplicate target name 'a'"),
    ("- name: a\n  kibana_url: https://k.example\n  username_env: U\n", "targets.yml:1: [0]", "password_env is missing"),
    ("- name: a\n  kibana_url: https://k.example\n  index: []\n", "targets.yml:3: [0].index", "non-empty list"),
    ("- name: a\n  kibana_url: https://k.example\n  ca_cert: nope.pem\n", "targets.yml:3: [0].ca_cert", "no such file"),
    ("- name: a\n  kibana_url: https://k.example\n  api_key_env: K\n  username_env: U\n  password_env: P\n",
     "targets.yml:3: [0].api_key_env", "either api_key_env or"),
    ("- &t {name: a, kibana_url: 'https://k.example'}\n- *t\n", "targets.yml:2: [1]", "aliases"),
])
def test_bad_targets_files_name_the_line_and_field(tmp_path, text, where, words):
    path = write(tmp_path, text)
    with pytest.raises(DeployError) as err:
        load_targets(path)
    message = str(err.value)
    assert message.startswith(str(tmp_path / where)), message
    assert words in message


def test_a_secret_where_a_variable_name_belongs_is_refused_unechoed(tmp_path):
    path = write(tmp_path, "- name: a\n  kibana_url: https://k.example\n  api_key_env: %s\n" % PROD_KEY)
    with pytest.raises(DeployError) as err:
        load_targets(path)
    assert "targets.yml:3: [0].api_key_env: must be the NAME of an environment variable" in str(err.value)
    assert PROD_KEY not in str(err.value)
