"""Detection files come from pull requests: hostile ones end in a DetectionError (or a lint problem)
naming the file, the field and the line, never in a traceback, a runaway or a read outside the
project."""

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from harness.detections import DetectionError, load_file
from harness.yamlload import MAX_BYTES, load_with_lines

ROOT = Path(__file__).resolve().parents[2]
DETECTIONS = ROOT / "detections"


def hostile(tmp_path, old, new, name="root_console_login.yml", fixtures=None):
    """A copy of a shipped detection with ``old`` replaced by ``new``, fixtures beside it."""
    text = (DETECTIONS / name).read_text()
    assert old in text, old
    if fixtures is None:
        (tmp_path / "fixtures").symlink_to(DETECTIONS / "fixtures")
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1))
    return path


def error_of(path):
    with pytest.raises(DetectionError) as err:
        load_file(path, path.parent / "fixtures")
    return err.value


def line_of(path, needle):
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def assert_names(err, path, field_start):
    assert err.file == str(path)
    assert err.field.startswith(field_start), err.field
    assert err.line is not None
    assert str(path) in str(err) and ":%d:" % err.line in str(err)


# -- 1. YAML: aliases, size, depth -------------------------------------------------------------

LAUGHS = "".join(
    ["lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"]
    + ["lol%d: &l%d [%s]\n" % (i, i, ", ".join(["*l%d" % (i - 1)] * 9)) for i in range(1, 10)]
)


def test_billion_laughs_is_refused_at_the_first_alias(tmp_path):
    path = tmp_path / "laughs.yml"
    path.write_text(LAUGHS)
    assert len(LAUGHS) < 4096
    started = time.monotonic()
    err = error_of(path)
    assert time.monotonic() - started < 1
    assert err.line == 2 and err.field == "lol1[0]"
    assert "YAML aliases (*l0) are not allowed" in err.message
    assert str(err).startswith("%s:2: lol1[0]: " % path)


def test_alias_inside_a_detection_names_the_field_and_line(tmp_path):
    path = hostile(tmp_path, "severity: high\n", "severity: &sev high\nfalse_alarm: *sev\n")
    err = error_of(path)
    assert_names(err, path, "false_alarm")
    assert err.line == line_of(path, "false_alarm: *sev")
    assert "aliases" in err.message


def test_merge_keys_are_aliases_too(tmp_path):
    path = hostile(tmp_path, "logic:\n  type: event\n",
                   "defaults: &d {type: event}\nlogic:\n  <<: *d\n")
    err = error_of(path)
    assert err.field == "logic.<<" and err.line == line_of(path, "<<: *d")


def test_file_size_is_bounded(tmp_path):
    path = hostile(tmp_path, "severity: high\n", "severity: high\n" + ("# padding\n" * (MAX_BYTES // 10 + 1)))
    err = error_of(path)
    assert err.file == str(path) and "larger than 1048576 bytes" in err.message


def test_nesting_depth_is_bounded(tmp_path):
    path = hostile(tmp_path, "severity: high\n", "severity: high\nx: " + "[" * 5000 + "]" * 5000 + "\n")
    err = error_of(path)
    assert_names(err, path, "x[0][0]")
    assert err.line == line_of(path, "x: [[[")
    assert "nested more than 100 levels deep" in err.message


def test_a_scalar_yaml_cannot_convert_is_an_error_at_its_line(tmp_path):
    path = hostile(tmp_path, "severity: high\n", "severity: high\nreviewed: 2026-13-45\n")
    err = error_of(path)
    assert err.line == line_of(path, "reviewed:") and "month must be in 1..12" in err.message


def test_line_tracking_and_duplicate_keys_are_kept():
    data, lines = load_with_lines("a:\n  b: [1, {c: 2}]\nd: 3\n", "f.yml")
    assert data == {"a": {"b": [1, {"c": 2}]}, "d": 3}
    assert lines == {"": 1, "a": 1, "a.b": 2, "a.b[0]": 2, "a.b[1]": 2, "a.b[1].c": 2, "d": 3}
    with pytest.raises(DetectionError) as err:
        load_with_lines("a: 1\nb: 2\na: 3\n", "f.yml")
    assert (err.value.field, err.value.line, err.value.message) == ("a", 3, "duplicate key")


# -- 2. fixtures stay inside detections/fixtures -----------------------------------------------

FIXTURE = "    fixtures: [root_console_login/root_success.json]\n"


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/hostname", "root_console_login/../../../README.md"])
def test_fixture_paths_outside_the_fixtures_directory(tmp_path, name):
    path = hostile(tmp_path, FIXTURE, "    fixtures: [%s]\n" % name)
    err = error_of(path)
    assert err.field == "tests[0].fixtures[0]"
    assert err.line == line_of(path, name)
    assert "resolves to" in err.message and "outside the fixtures directory" in err.message


def test_a_symlink_out_of_the_fixtures_directory_is_refused(tmp_path):
    fixtures = tmp_path / "fixtures"
    shutil.copytree(DETECTIONS / "fixtures" / "root_console_login", fixtures / "root_console_login")
    os.symlink("/etc/hostname", fixtures / "root_console_login" / "evil.json")
    os.symlink("root_success.json", fixtures / "root_console_login" / "alias.json")
    good = hostile(tmp_path, FIXTURE, "    fixtures: [root_console_login/alias.json]\n", fixtures=fixtures)
    det = load_file(good, fixtures)                      # a symlink that stays inside is fine
    assert det.fixture_paths(fixtures, det.data["tests"][0]) == [fixtures / "root_console_login/alias.json"]
    bad = hostile(tmp_path, FIXTURE, "    fixtures: [root_console_login/evil.json]\n", fixtures=fixtures)
    err = error_of(bad)
    assert err.field == "tests[0].fixtures[0]" and "outside the fixtures directory" in err.message


def test_fixture_paths_refuses_what_the_loader_would(tmp_path):
    path = hostile(tmp_path, "severity: high\n", "severity: high\n")
    det = load_file(path, tmp_path / "fixtures")
    test = det.data["tests"][1]
    test["fixtures"] = ["root_console_login/mfa_and_two_sources.json", "../../../etc/passwd"]
    with pytest.raises(DetectionError) as err:
        det.fixture_paths(tmp_path / "fixtures", test)
    assert err.value.field == "tests[1].fixtures[1]" and "outside the fixtures directory" in err.value.message


# -- 3. deep nesting in predicates and queries --------------------------------------------------

WHERE = "      - {field: event_name, equals: ConsoleLogin}\n"


def nested_not(n):
    return "      - " + "{not: " * n + "{field: event_name, equals: x}" + "}" * n + "\n"


def test_deeply_nested_not_in_a_predicate(tmp_path):
    path = hostile(tmp_path, WHERE, WHERE + nested_not(80))
    err = error_of(path)
    assert_names(err, path, "logic.where.all[2].not.not")
    assert err.line == line_of(path, "{not: {not:")
    assert "predicates nest at most 64 levels deep" in err.message


def test_predicate_depth_limit():
    from awssignin.predicates import MAX_DEPTH, PredicateError, compile_predicate

    def spec(n):
        inner = {"field": "event_name", "equals": "x"}
        for _ in range(n):
            inner = {"not": inner}
        return inner
    assert compile_predicate(spec(MAX_DEPTH - 1))({"event_name": "x"}) == ((MAX_DEPTH - 1) % 2 == 0)
    with pytest.raises(PredicateError, match="at most 64 levels"):
        compile_predicate(spec(MAX_DEPTH))
    with pytest.raises(PredicateError):
        compile_predicate(spec(5000))


def test_kql_depth_limit():
    from harness.elastic import kql

    for query in ["(" * 5000 + "event.action: x" + ")" * 5000,
                  "not (" * 5000 + "event.action: x" + ")" * 5000,
                  "event.action: " + "(" * 5000 + "x" + ")" * 5000,
                  "event.action: (" + "not (" * 5000 + "x" + ")" * 5001]:
        with pytest.raises(kql.KqlSyntaxError, match="more than 64 levels deep"):
            kql.check(query)
    kql.check("(" * 63 + "event.action: x" + ")" * 63)
    kql.check(" or ".join(["event.action: x"] * 5000))


def test_eql_depth_limit():
    from harness.elastic import eql
    from harness.elastic.mapping import field_type

    cond = 'event.action == "x"'
    for query in ["any where " + "(" * 5000 + cond + ")" * 5000,
                  "any where " + "not " * 5000 + cond,
                  "any where " + "length(" * 5000 + "event.action" + ")" * 5000 + " == 1",
                  "any where source.as.number == " + "-" * 5000 + "1",
                  "any where source.as.number == " + " + ".join(["1"] * 5000)]:
        with pytest.raises(eql.EqlSyntaxError, match="more than 64 levels deep"):
            eql.check(query, field_type=field_type)
    # a long flat chain of or / and is fine: it is kept as a balanced tree
    many = " or ".join('event.action == "a%d"' % i for i in range(5000))
    compiled = eql.compile_eql("any where " + many, field_type=field_type)
    assert compiled.match({"event": {"action": "a4999"}}) and not compiled.match({"event": {"action": "b"}})
    assert len(eql.fields_referenced("any where " + many)) == 1


def test_spl_depth_limit():
    from harness.splunk import spl

    for search in ["(" * 5000 + "a=1" + ")" * 5000, "NOT " * 5000 + "a=1", "NOT (" * 5000 + "a=1" + ")" * 5000]:
        with pytest.raises(spl.SplSyntaxError, match="more than 64 levels deep"):
            spl.check(search)
    spl.check("(" * 64 + "a=1" + ")" * 64)
    spl.check(" OR ".join(["a=1"] * 5000))


REASON = "a hand-written query in a hostile pull request"


def with_kql_override(tmp_path, query):
    """root_console_login with a hand-written KQL query (elastic.override.query)."""
    return hostile(tmp_path, "elastic:\n", "elastic:\n  override:\n    query: '%s'\n    reason: %s\n"
                   % (query.replace("'", "''"), REASON))


def elastic_problems(path, layout):
    from harness.elastic.lint import lint_rules
    return lint_rules(layout, [load_file(path, path.parent / "fixtures")])


def assert_one_problem(problems, path, field, words):
    assert len(problems) == 1, problems
    assert re.match(r"%s:\d+: %s: " % (re.escape(str(path)), re.escape(field)), problems[0]), problems[0]
    assert words in problems[0]


GOOD_KQL = 'event.provider: "signin.amazonaws.com" and event.action: "ConsoleLogin"'


def test_lint_reports_a_deep_kql_query_with_file_and_line(tmp_path, layout):
    path = with_kql_override(tmp_path, GOOD_KQL + " and " + "(" * 100 + 'event.outcome: "success"' + ")" * 100)
    assert_one_problem(elastic_problems(path, layout), path, "elastic.override.query", "more than 64 levels deep")


def test_lint_reports_a_deep_eql_query_with_file_and_line(tmp_path, layout):
    import copy

    from harness import generate
    from harness.detections import DetectionFile, validator

    base = load_file(hostile(tmp_path, "severity: high\n", "severity: high\n"), tmp_path / "fixtures")
    data = copy.deepcopy(base.authored)
    step = {"all": [{"field": "event_name", "equals": "ConsoleLogin"}, {"field": "outcome", "equals": "failure"}]}
    data["logic"] = {"type": "sequence", "group_by": ["account_id"], "window": "15m",
                     "steps": [{"name": "a", "where": step, "by": ["account_id"]},
                               {"name": "b", "where": step, "by": ["account_id"]}]}
    cond = "not " * 100 + 'event.action == "ConsoleLogin"'
    data["elastic"]["override"] = {"reason": REASON, "query": "sequence by cloud.account.id with maxspan={window} "
                                   "[any where %s] [any where %s]" % (cond, cond)}
    for test in data["tests"]:
        test["expect"] = []
    assert not list(validator().iter_errors(data))
    det = generate.resolve(DetectionFile(base.path, data, base.lines))
    from harness.elastic.lint import lint_rules
    assert_one_problem(lint_rules(layout, [det]), base.path, "elastic.override.query", "more than 64 levels deep")


def test_lint_reports_a_deep_splunk_search_with_file_and_line(tmp_path, layout, monkeypatch):
    from harness.splunk import runner
    from harness.splunk.lint import lint_searches

    search = 'eventSource="signin.amazonaws.com" ' + "NOT " * 100 + "eventName=x"
    path = hostile(tmp_path, "elastic:\n", "splunk:\n  override:\n    search: '%s'\n    reason: %s\nelastic:\n"
                   % (search, REASON))
    det = load_file(path, tmp_path / "fixtures")
    # as if the pull request had also rebuilt savedsearches.conf
    monkeypatch.setattr(runner.SplunkLocalRunner, "searches_in_conf", lambda self: {})
    assert_one_problem(lint_searches(layout, [det]), path, "splunk.search", "more than 64 levels deep")


# -- 4. geo_point in KQL ----------------------------------------------------------------------

@pytest.mark.parametrize("query", ["source.geo.location: 1", "source.geo.location: 1*",
                                   "source.geo.location > 1", 'source.geo.location: "1,2"'])
def test_kql_value_queries_on_geo_point_are_errors(query):
    from harness.elastic import kql
    with pytest.raises(kql.KqlValueError, match="geo_point field.*fail at every run"):
        kql.check(query)


def test_kql_exists_on_geo_point_and_text_fields():
    from harness.elastic import kql
    located = {"source": {"geo": {"location": {"lat": 47.6, "lon": -122.3}}}}
    for query in ["source.geo.location: *", "source.geo: *"]:
        matches = kql.compile_kql(query)
        assert matches(located) and not matches({"source": {"ip": "203.0.113.9"}})
    assert kql.compile_kql("not source.geo.location: *")({})
    assert kql.compile_kql("user.name.text: *")({"user": {"name": "alice"}})


def test_lint_reports_a_geo_point_value_query(tmp_path, layout):
    path = with_kql_override(tmp_path, GOOD_KQL + " and source.geo.location: 1")
    assert_one_problem(elastic_problems(path, layout), path, "elastic.override.query",
                       "source.geo.location is a geo_point field")


def test_lint_accepts_exists_on_a_geo_point(tmp_path, layout):
    path = with_kql_override(tmp_path, GOOD_KQL + " and source.geo.location: *")
    assert elastic_problems(path, layout) == []
