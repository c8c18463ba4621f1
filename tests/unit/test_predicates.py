import pytest

from awssignin.predicates import PredicateError, compile_predicate, fields_used, required_values

EV = {"event_name": "GetSigninToken", "user_agent": "python-requests/2.32.3", "outcome": "success",
      "user_name": "alice", "request_user_name": "bob", "error_code": None}


def check(spec, ev=EV):
    return compile_predicate(spec)(ev)


def test_leaf_operators_are_case_sensitive_and_exact():
    assert check({"field": "event_name", "equals": "GetSigninToken"})
    assert not check({"field": "event_name", "equals": "getsignintoken"})
    assert not check({"field": "event_name", "equals": "GetSignin"})
    assert check({"field": "event_name", "in": ["ConsoleLogin", "GetSigninToken"]})
    assert check({"field": "user_agent", "contains": "requests/"})
    assert check({"field": "user_agent", "starts_with": "python-"})
    assert check({"field": "user_agent", "ends_with": "2.32.3"})
    assert not check({"field": "user_agent", "ends_with": "2.32"})


def test_missing_field_is_false_and_its_negation_true():
    assert not check({"field": "error_code", "equals": "AccessDenied"})
    assert check({"not": {"field": "error_code", "equals": "AccessDenied"}})
    assert not check({"field": "error_code", "contains": "Denied"})
    assert check({"field": "error_code", "exists": False})
    assert check({"field": "user_agent", "exists": True})


def test_field_to_field_comparison():
    assert check({"field": "user_name", "differs_from": "request_user_name"})
    assert not check({"field": "user_name", "equals_field": "request_user_name"})
    # a missing side never differs
    assert not check({"field": "user_name", "differs_from": "error_code"})


def test_combinators():
    spec = {"all": [{"field": "outcome", "equals": "success"},
                    {"any": [{"field": "event_name", "equals": "ConsoleLogin"},
                             {"field": "event_name", "equals": "GetSigninToken"}]},
                    {"not": {"field": "user_agent", "contains": "Jersey/${project.version}"}}]}
    assert check(spec)
    assert not check(spec, dict(EV, user_agent="Jersey/${project.version}"))


@pytest.mark.parametrize("spec, where", [
    ({"field": "nope", "equals": "x"}, "where.field"),
    ({"field": "outcome"}, "where"),
    ({"field": "outcome", "equals": "a", "contains": "b"}, "where"),
    ({"all": []}, "where.all"),
    ({"all": [{"field": "outcome", "in": "success"}]}, "where.all[0].in"),
    ({"not": {"field": "outcome", "exists": "yes"}}, "where.not.exists"),
    ("outcome = success", "where"),
])
def test_errors_say_where(spec, where):
    with pytest.raises(PredicateError) as err:
        compile_predicate(spec)
    assert err.value.path == where


def test_required_values_pins_event_source():
    spec = {"all": [{"field": "event_source", "equals": "signin.amazonaws.com"}, {"field": "outcome", "equals": "success"}]}
    assert required_values(spec, "event_source") == {"signin.amazonaws.com"}
    either = {"any": [spec, {"field": "event_source", "in": ["iam.amazonaws.com"]}]}
    assert required_values(either, "event_source") == {"signin.amazonaws.com", "iam.amazonaws.com"}
    loose = {"any": [spec, {"field": "outcome", "equals": "failure"}]}
    assert required_values(loose, "event_source") is None
    assert fields_used(spec) == {"event_source", "outcome"}
