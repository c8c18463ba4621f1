"""macros.conf loading (default/local layering) and backtick macro expansion as Splunk does it."""

import textwrap

import pytest

from harness.splunk.fieldview import field_view
from harness.splunk.macros import MAX_DEPTH, MacroError, expand, load_macros
from harness.splunk.spl import compile_search

DEFAULT_MACROS = """\
    # Data macro: users redefine it to add their index.
    [cloudtrail]
    definition = sourcetype=aws:cloudtrail
    description = AWS CloudTrail events

    [aws_signin_events]
    definition = `cloudtrail` eventSource="signin.amazonaws.com"

    [console_login(1)]
    args = outcome
    definition = `aws_signin_events` eventName=ConsoleLogin responseElements.ConsoleLogin=$outcome$

    [identity_is(2)]
    args = field, identity_type
    definition = $field$="$identity_type$"

    [root_console_login_filter]
    definition = search *
    description = Edit to tune false positives

    [multi_line]
    definition = eventSource="signin.amazonaws.com" \\
      eventName=ConsoleLogin
"""


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def app(tmp_path):
    write(tmp_path / "awssignin" / "default" / "macros.conf", DEFAULT_MACROS)
    return tmp_path / "awssignin"


@pytest.fixture
def macros(app):
    return load_macros(app)


ROOT_LOGIN = {
    "eventVersion": "1.08",
    "userIdentity": {"type": "Root", "principalId": "111122223333", "arn": "arn:aws:iam::111122223333:root",
                     "accountId": "111122223333", "accessKeyId": ""},
    "eventTime": "2026-01-15T09:12:00Z", "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
    "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.20",
    "userAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "requestParameters": None, "responseElements": {"ConsoleLogin": "Success"},
    "additionalEventData": {"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No",
                            "MFAUsed": "No"},
    "eventID": "3c2a64e2-7f0b-4d4c-9a51-6d3a1e0c7b10", "readOnly": False, "eventType": "AwsConsoleSignIn",
    "managementEvent": True, "recipientAccountId": "111122223333", "eventCategory": "Management",
}


# --- loading --------------------------------------------------------------------------------------


def test_load_reads_stanzas_and_joins_continued_lines(macros):
    assert macros["cloudtrail"]["definition"] == "sourcetype=aws:cloudtrail"
    assert macros["console_login(1)"]["args"] == "outcome"
    # ksconf keeps the newline of a backslash-continued value and drops the backslash.
    assert macros["multi_line"]["definition"] == 'eventSource="signin.amazonaws.com" \n  eventName=ConsoleLogin'


def test_local_overrides_default_key_by_key(app):
    write(app / "local" / "macros.conf", """\
        [cloudtrail]
        definition = index=aws sourcetype=aws:cloudtrail
        """)
    macros = load_macros(app)
    assert macros["cloudtrail"]["definition"] == "index=aws sourcetype=aws:cloudtrail"
    assert macros["cloudtrail"]["description"] == "AWS CloudTrail events"  # kept from default
    assert expand("`aws_signin_events`", macros).startswith("index=aws sourcetype=aws:cloudtrail ")


def test_a_list_of_paths_is_layered_in_order(tmp_path):
    base = write(tmp_path / "base.conf", "[m]\ndefinition = a=1\ndescription = base\n")
    top = write(tmp_path / "top.conf", "[m]\ndefinition = a=2\n")
    assert load_macros([base, top])["m"] == {"definition": "a=2", "description": "base"}
    assert load_macros([top, base])["m"]["definition"] == "a=1"


def test_a_default_stanza_supplies_keys_that_stanzas_lack(tmp_path):
    conf = write(tmp_path / "macros.conf", "[default]\niseval = 0\n[m]\ndefinition = a=1\n[n]\ndefinition = b=1\niseval = 1\n")
    macros = load_macros(conf)
    assert "default" not in macros
    assert macros["m"]["iseval"] == "0" and macros["n"]["iseval"] == "1"


def test_an_app_without_macros_conf_has_no_macros(tmp_path):
    (tmp_path / "app" / "default").mkdir(parents=True)
    assert load_macros(tmp_path / "app") == {}


def test_a_directory_holding_macros_conf_is_read(tmp_path):
    write(tmp_path / "conf" / "macros.conf", "[m]\ndefinition = a=1\n")
    assert load_macros(tmp_path / "conf")["m"]["definition"] == "a=1"


@pytest.mark.parametrize("conf, message", [
    ("[m(2)]\nargs = a\ndefinition = $a$\n", "[m(2)]: takes 2 argument(s) but args names 1 ('a')"),
    ("[m(1)]\ndefinition = x\n", "[m(1)]: takes 1 argument(s) but args names 0"),
    ("[m(1)]\nargs = a.b\ndefinition = $a.b$\n", "argument name 'a.b' may contain only"),
    ("[m(2)]\nargs = a, a\ndefinition = $a$\n", "args repeats a name"),
    ("[m(0)]\ndefinition = x\n", "the argument count must be at least 1"),
    ("[m]\ndescription = nothing to expand\n", "[m]: no definition"),
    ("[m(x)]\ndefinition = x\n", "a macro stanza is [name] or [name(N)]"),
    ("[m]\ndefinition = a\n[m]\ndefinition = b\n", "found more than once"),
    ("[m]\nthis line has no equals sign\n", "Unexpected entry"),
])
def test_bad_macros_conf_is_an_error_naming_the_file_and_stanza(tmp_path, conf, message):
    path = write(tmp_path / "macros.conf", conf)
    with pytest.raises(MacroError) as err:
        load_macros(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_a_missing_path_is_an_error(tmp_path):
    with pytest.raises(MacroError, match="no such file or directory"):
        load_macros(tmp_path / "nope" / "macros.conf")


# --- expansion ------------------------------------------------------------------------------------


def test_a_macro_without_arguments_expands_recursively(macros):
    assert expand("`aws_signin_events` eventName=ConsoleLogin", macros) == \
        'sourcetype=aws:cloudtrail eventSource="signin.amazonaws.com" eventName=ConsoleLogin'


def test_arguments_are_substituted_textually(macros):
    assert expand("`console_login(Failure)`", macros) == (
        'sourcetype=aws:cloudtrail eventSource="signin.amazonaws.com" eventName=ConsoleLogin '
        'responseElements.ConsoleLogin=Failure')


def test_arguments_are_substituted_inside_quotes_too(macros):
    assert expand("`identity_is(userIdentity.type, Root)`", macros) == 'userIdentity.type="Root"'


def test_every_occurrence_of_an_argument_is_substituted():
    macros = {"both(1)": {"args": "v", "definition": "a=$v$ OR b=$v$"}}
    assert expand("`both(x)`", macros) == "a=x OR b=x"


def test_dollar_tokens_that_are_not_arguments_are_left_alone():
    macros = {"m(1)": {"args": "v", "definition": 'a=$v$ note="$result.count$"'}}
    assert expand("`m(1)`", macros) == 'a=1 note="$result.count$"'


def test_an_argument_value_is_not_substituted_again():
    macros = {"m(2)": {"args": "a,b", "definition": "x=$a$ y=$b$"}}
    assert expand("`m($b$, 2)`", macros) == "x=$b$ y=2"


def test_the_stanza_is_chosen_by_argument_count():
    macros = {
        "signin": {"definition": 'eventSource="signin.amazonaws.com"'},
        "signin(1)": {"args": "event", "definition": 'eventSource="signin.amazonaws.com" eventName=$event$'},
        "signin(2)": {"args": "event, outcome",
                      "definition": "`signin($event$)` responseElements.$event$=$outcome$"},
    }
    assert expand("`signin`", macros) == 'eventSource="signin.amazonaws.com"'
    assert expand("`signin(CheckMfa)`", macros) == 'eventSource="signin.amazonaws.com" eventName=CheckMfa'
    assert expand("`signin(ConsoleLogin, Failure)`", macros) == (
        'eventSource="signin.amazonaws.com" eventName=ConsoleLogin responseElements.ConsoleLogin=Failure')


def test_quoted_arguments_may_contain_commas_and_keep_their_quotes():
    macros = {"m(2)": {"args": "a,b", "definition": "x=$a$ y=$b$"}}
    assert expand('`m(1, "Failed authentication, again")`', macros) == 'x=1 y="Failed authentication, again"'
    assert expand('`m( 1 ,  "b" )`', macros) == 'x=1 y="b"'  # whitespace around arguments is trimmed


def test_a_comma_inside_parentheses_in_arguments_is_refused_as_ambiguous():
    macros = {"m(2)": {"args": "a,b", "definition": "$a$ $b$"}}
    with pytest.raises(MacroError, match="comma inside parentheses"):
        expand("`m(if(a,b), c)`", macros)


def test_backticks_inside_quoted_strings_are_not_expanded(macros):
    text = 'userAgent="`cloudtrail`" `cloudtrail`'
    assert expand(text, macros) == 'userAgent="`cloudtrail`" sourcetype=aws:cloudtrail'
    escaped = r'userAgent="say \"`cloudtrail`\"" `cloudtrail`'
    assert expand(escaped, macros) == r'userAgent="say \"`cloudtrail`\"" sourcetype=aws:cloudtrail'


def test_backticks_inside_comments_are_not_expanded(macros):
    assert expand("`cloudtrail` ```see `undefined_macro` ```", macros) == \
        "sourcetype=aws:cloudtrail ```see `undefined_macro` ```"


def test_the_filter_macro_expands_after_a_pipe(macros):
    assert expand("`cloudtrail` | awssignin detection=root_console_login | `root_console_login_filter`",
                  macros) == "sourcetype=aws:cloudtrail | awssignin detection=root_console_login | search *"


def test_text_without_macros_is_returned_unchanged():
    text = 'eventName=ConsoleLogin userAgent="a\\"b" ```c```'
    assert expand(text, {}) == text


# --- errors -----------------------------------------------------------------------------------------


def test_an_undefined_macro_is_an_error_naming_it(macros):
    with pytest.raises(MacroError) as err:
        expand("eventName=ConsoleLogin `aws_sigin_events`", macros)
    assert err.value.macro == "aws_sigin_events"
    assert err.value.position == 23
    assert "`aws_sigin_events`" in str(err.value) and "not defined" in str(err.value)


def test_a_wrong_argument_count_names_the_macros_that_exist(macros):
    with pytest.raises(MacroError) as err:
        expand("`console_login(Failure, Root)`", macros)
    assert err.value.macro == "console_login(2)"
    assert "called with 2 argument(s), but only [console_login(1)] is defined" in str(err.value)
    with pytest.raises(MacroError, match=r"only \[cloudtrail\] is defined"):
        expand("`cloudtrail(aws)`", macros)


def test_errors_inside_nested_definitions_name_the_chain():
    macros = {"outer": {"definition": "a=1 `inner`"}, "inner": {"definition": "`missing`"}}
    with pytest.raises(MacroError) as err:
        expand("`outer`", macros)
    assert "in the definition of [outer] -> [inner]" in str(err.value)
    assert err.value.macro == "missing"


def test_a_cycle_is_detected_and_named():
    macros = {"a": {"definition": "x=1 `b(1)`"}, "b(1)": {"args": "v", "definition": "`c`"},
              "c": {"definition": "`b(2)`"}}
    with pytest.raises(MacroError) as err:
        expand("`a`", macros)
    assert str(err.value) == "macro cycle: b(1) -> c -> b(1)"


def test_a_self_recursive_macro_is_a_cycle():
    with pytest.raises(MacroError, match=r"macro cycle: loop -> loop"):
        expand("`loop`", {"loop": {"definition": "a=1 `loop`"}})


def test_expansion_depth_is_limited():
    chain = {"m%d" % i: {"definition": "`m%d`" % (i + 1)} for i in range(MAX_DEPTH + 5)}
    chain["m%d" % (MAX_DEPTH + 5)] = {"definition": "a=1"}
    with pytest.raises(MacroError, match="nested deeper than %d levels" % MAX_DEPTH):
        expand("`m0`", chain)
    short = {"m%d" % i: {"definition": "`m%d`" % (i + 1)} for i in range(MAX_DEPTH - 1)}
    short["m%d" % (MAX_DEPTH - 1)] = {"definition": "a=1"}
    assert expand("`m0`", short) == "a=1"


def test_an_eval_based_macro_is_refused_when_called():
    macros = {"ev": {"definition": '"a=" . "1"', "iseval": "true"}, "plain": {"definition": "a=1"}}
    assert expand("`plain`", macros) == "a=1"
    with pytest.raises(MacroError, match=r"`ev` is eval-based \(iseval = true\)"):
        expand("`ev`", macros)


def test_an_unterminated_call_is_an_error_with_its_position(macros):
    with pytest.raises(MacroError) as err:
        expand("eventName=ConsoleLogin `cloudtrail", macros)
    assert err.value.position == 23
    assert "unterminated macro call at position 23" in str(err.value)


@pytest.mark.parametrize("call", ["``", "`two words`", "`m(a`"])
def test_malformed_calls_are_errors(call):
    with pytest.raises(MacroError, match="malformed macro call"):
        expand(call, {"m(1)": {"args": "a", "definition": "x"}})


def test_hand_built_macros_are_validated():
    with pytest.raises(MacroError, match=r"macro \[m\(2\)\] takes 2 argument\(s\) but args names 1"):
        expand("a=1", {"m(2)": {"args": "a", "definition": "$a$"}})


# --- with the evaluator -------------------------------------------------------------------------------


def test_an_expanded_search_compiles_and_selects_the_events_it_names(macros):
    search = expand('`console_login(Success)` `identity_is(userIdentity.type, Root)`', macros)
    predicate = compile_search(search)
    assert predicate(field_view(ROOT_LOGIN))
    iam = dict(ROOT_LOGIN, userIdentity={"type": "IAMUser", "userName": "alice", "accountId": "111122223333"})
    assert not predicate(field_view(iam))
    failed = dict(ROOT_LOGIN, responseElements={"ConsoleLogin": "Failure"}, errorMessage="Failed authentication")
    assert not predicate(field_view(failed))
