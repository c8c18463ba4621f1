"""The Elastic backend: a detection's ``logic`` -> the Kibana rule's type, query and fields.

Two layers, as pySigma separates a processing pipeline from a backend:

1. the field mapping (``ECS_FIELDS``, ``GROUP_FIELDS``, ``_user_known``): what each sign-in view
   field is in the document the AWS integration indexes (harness/elastic/ecs.py reproduces that
   pipeline). Where the view means something ECS has no single field for, the mapping says how
   it is written instead, or refuses (``Untranslatable``) so nothing is approximated silently;
2. the query backend: the mapped predicate rendered as KQL (query and threshold rules) or as an
   EQL condition (sequence stages), with each language's own quoting.

Rule types: ``event`` -> query rule; ``threshold`` -> threshold rule counting distinct
``event.id``; ``distinct`` -> threshold rule with cardinality on the distinct field; ``sequence``
-> EQL sequence with ``with runs=N`` for ``min_count`` and per-stage join keys; ``new_terms`` ->
new_terms rule whose ``new_terms_fields`` are the group fields (``history_window_start`` follows
from ``logic.window`` in harness/elastic/rules.py).

What cannot be written at all (a comparison of two fields: KQL's grammar has no field on the value
side, and Elasticsearch's EQL verifier refuses one, "Comparisons against fields are not (currently)
supported", which harness/elastic/eqleval.py reproduces and tests/unit/test_generators.py checks)
is left out of the query, which
makes the rule wider than the logic; ``Generated.approximations`` lists it and the rule's setup
guide says so. The equivalence check (harness/equivalence.py) then reports the records where the
rule and the logic disagree, and the detection file must declare them (``known_differences``).

The platform-level differences every rule reading a field inherits (how the integration's pipeline
writes it) are listed once, in ``FIELD_DIFFERENCES``, with the records they concern.
"""

import json

from awssignin.engine import union_of_sources
from awssignin.predicates import required_values

from ..predicate_ast import Leaf, tree

DATASET_FIELD = "data_stream.dataset"
DATASET = "aws.cloudtrail"
INDEX = ["logs-aws.cloudtrail-*"]
MASKED_USER = "HIDDEN_DUE_TO_SECURITY_REASONS"

# view field -> the ECS field carrying the same value (the pipeline's renames, harness/elastic/ecs.py)
ECS_FIELDS = {
    "event_id": "event.id",
    "event_source": "event.provider",
    "event_name": "event.action",
    "event_type": "aws.cloudtrail.event_type",
    "region": "cloud.region",
    "source_ip": "source.address",
    "user_agent": "user_agent.original",
    "error_code": "aws.cloudtrail.error_code",
    "error_message": "aws.cloudtrail.error_message",
    "outcome": "event.outcome",
    "identity_type": "aws.cloudtrail.user_identity.type",
    "account_id": "cloud.account.id",
    "principal_id": "user.id",
    "arn": "aws.cloudtrail.user_identity.arn",
    "access_key_id": "aws.cloudtrail.user_identity.access_key_id",
    "session_issuer_type": "aws.cloudtrail.user_identity.session_context.session_issuer.type",
    "session_issuer_arn": "aws.cloudtrail.user_identity.session_context.session_issuer.arn",
    "mfa_authenticated": "aws.cloudtrail.user_identity.session_context.mfa_authenticated",
    "mfa_used": "aws.cloudtrail.console_login.additional_eventdata.mfa_used",
    "login_to": "aws.cloudtrail.console_login.additional_eventdata.login_to",
    "saml_provider_arn": "aws.cloudtrail.flattened.additional_eventdata.SamlProviderArn",
    "request_user_name": "user.target.name",
    "recipient_account_id": "aws.cloudtrail.recipient_account_id",
    # the AWS integration's pipeline enriches source.geo.* from source.ip with Elasticsearch's GeoIP
    # processor (harness/elastic/geo.py reproduces it from a MaxMind-format database)
    "source_country": "source.geo.country_iso_code",
}

# The pipeline turns MFAUsed into a boolean: exactly "No" -> false, any other value -> true
# (ecs.py ``_console_login_booleans``). The view's canonical Yes / No map onto it.
VALUE_MAPS = {"mfa_used": {"Yes": True, "No": False}}

# Alert group and join fields. "user" has no ECS field with the view's meaning: an IAM user's
# name is user.name (with cloud.account.id beside it in every per-user group), but a role or
# federated session's user.name is its issuer's name, so on Elastic the sessions of one role
# share a group where the engine keeps each session (its ARN) apart. GROUP_NOTES says so in
# every rule that groups on it.
# ``user_field`` picks, per detection, the ECS field that means "user" for the identities its
# predicate admits: user.name when only IAM users can match, the ARN when IAM users cannot
# (root, sessions; GetSigninToken needs temporary credentials, so only sessions call it), else
# user.name with the note below.
GROUP_FIELDS = dict(ECS_FIELDS, user="user.name")
SESSION_ONLY_EVENTS = frozenset(["GetSigninToken"])
GROUP_NOTES = {
    "user_by_arn": "Elastic counts each identity apart by `aws.cloudtrail.user_identity.arn` (as the Splunk app "
                   "does) and shows it by `user.name`: for role and federated sessions that is the name of the "
                   "role or user that issued them. Root sign-ins carry no `user.name`, so Kibana leaves them out "
                   "of this rule's groups.",
    "user": "Elastic groups on `user.name`: an IAM user's name (per `cloud.account.id`), but for role and "
            "federated sessions the name of the role or user that issued them, so every session of one role "
            "counts together here, where the Splunk app keeps each session (its ARN) apart; and root sign-ins "
            "carry no `user.name`, so Kibana leaves them out of this rule's groups (the Splunk app counts root "
            "as its account's root ARN).",
}


class Untranslatable(ValueError):
    """A predicate part Elastic cannot express; ``path`` names it in the detection file."""

    def __init__(self, path, message):
        ValueError.__init__(self, "%s: %s" % (path, message))
        self.path = path


class FieldDifference(object):
    """Records on which the integration's pipeline writes a view field differently.

    ``applies(record)`` takes the raw CloudTrail record; the equivalence check accepts a
    disagreement on such a record for a predicate that reads one of ``fields``.
    """

    def __init__(self, fields, applies, why):
        self.fields = frozenset(fields)
        self.applies = applies
        self.why = why


def _obj(record, key):
    value = record.get(key) if isinstance(record, dict) else None
    return value if isinstance(value, dict) else {}


def _mfa_spelling(record):
    value = _obj(record, "additionalEventData").get("MFAUsed")
    return value is not None and value not in ("Yes", "No")


def _console_login_without_marker(record):
    return record.get("eventName") == "ConsoleLogin" and \
        _obj(record, "responseElements").get("ConsoleLogin") not in ("Success", "Failure")


def _marker_disagrees_with_errors(record):
    name = record.get("eventName")
    if not isinstance(name, str) or name == "ConsoleLogin":
        return False
    marker = _obj(record, "responseElements").get(name)
    if marker not in ("Success", "Failure"):
        marker = _obj(record, "serviceEventDetails").get(name)
    if marker not in ("Success", "Failure"):
        return False
    errors = record.get("errorCode") not in (None, "") or record.get("errorMessage") not in (None, "")
    return (marker == "Failure") != errors


def _masked_session(record):
    # the pipeline overwrites a session's user.name with its issuer's name, and no other field keeps
    # the record's own userName, so a masked name on a session is invisible on Elastic. AWS masks
    # the typed name of failed IAM-user sign-ins; a session carrying it is not a shape AWS documents.
    identity = _obj(record, "userIdentity")
    return identity.get("type") in ("AssumedRole", "FederatedUser") and identity.get("userName") == MASKED_USER


def _account_from_aws_account_id(record):
    # the pipeline's cloud.account.id falls back to awsAccountId after recipientAccountId; the view does not
    return _obj(record, "userIdentity").get("accountId") in (None, "") and \
        record.get("recipientAccountId") in (None, "") and record.get("awsAccountId") not in (None, "")


FIELD_DIFFERENCES = (
    FieldDifference(
        ["mfa_used"], _mfa_spelling,
        "the integration maps MFAUsed exactly \"No\" to false and every other spelling (\"no\", \"NO\", "
        "anything else) to true, where the engine reads Yes / No in any case"),
    FieldDifference(
        ["outcome"], _console_login_without_marker,
        "for a ConsoleLogin without responseElements.ConsoleLogin the integration keeps the outcome it "
        "derives from errorCode / errorMessage; the engine calls it neither a success nor a failure"),
    FieldDifference(
        ["outcome"], _marker_disagrees_with_errors,
        "for sign-in events other than ConsoleLogin the integration derives the outcome from errorCode / "
        "errorMessage only, where the engine reads the responseElements (or serviceEventDetails) marker first"),
    FieldDifference(
        ["user"], _masked_session,
        "a role or federated session whose userName is the masked HIDDEN_DUE_TO_SECURITY_REASONS: the "
        "integration replaces user.name with the session issuer's name and keeps the masked one nowhere"),
    FieldDifference(
        ["account_id"], _account_from_aws_account_id,
        "without userIdentity.accountId and recipientAccountId the integration takes awsAccountId for "
        "cloud.account.id; the engine has no account then"),
)


class Generated(object):
    """The generated rule content: ``type``, ``language``, ``query``, ``group_fields`` and, for
    threshold rules, ``cardinality_field``; ``approximations`` lists what could not be expressed."""

    def __init__(self, kind, language, query, group_fields, cardinality_field=None, approximations=(),
                 approximate_user=False, user_from_document=False, partition_fields=(), new_terms_fields=()):
        self.type = kind
        self.language = language
        self.query = query
        self.group_fields = group_fields
        self.cardinality_field = cardinality_field
        self.approximations = list(approximations)
        self.approximate_user = approximate_user  # "user" maps to user.name for sessions too
        self.user_from_document = user_from_document  # per-document alerts: alert_user()
        self.partition_fields = list(partition_fields)  # threshold fields beyond the group: they split, never merge
        self.new_terms_fields = list(new_terms_fields)  # new_terms rules: the fields whose combination is the term


# -- the mapped predicate: a small tree of ECS terms --------------------------------------------

class _Term(object):
    """ECS ``field`` compared by ``op`` (eq, in, exists, contains, prefix, suffix) with ``value``."""

    __slots__ = ("field", "op", "value")

    def __init__(self, field, op, value=None):
        self.field = field
        self.op = op
        self.value = value


class _Bool(object):
    __slots__ = ("kind", "children")

    def __init__(self, kind, children):
        self.kind = kind
        self.children = children


_TRUE = _Bool("all", [])


def _user_known():
    """``user exists`` in the view: IAM user with a name that is not masked; root (always has an
    ARN or an account); any other identity with an ARN and without the masked name."""
    kind = ECS_FIELDS["identity_type"]
    name = "user.name"
    arn = ECS_FIELDS["arn"]
    not_masked = _Bool("not", [_Term(name, "eq", MASKED_USER)])
    return _Bool("any", [
        _Bool("all", [_Term(kind, "eq", "IAMUser"), _Term(name, "exists"), not_masked]),
        _Bool("all", [_Term(kind, "eq", "Root"), _Bool("any", [_Term(arn, "exists"), _Term(ECS_FIELDS["account_id"], "exists")])]),
        _Bool("all", [_Bool("not", [_Term(kind, "in", ["IAMUser", "Root"])]), _Term(arn, "exists"), not_masked]),
    ])


def _map_leaf(leaf, approximations, positive):
    if leaf.op in ("equals_field", "differs_from"):
        if not positive:
            # dropping it under a negation would make the rule narrower than the logic
            raise Untranslatable(leaf.path, "a negated field comparison cannot be expressed on Elastic")
        approximations.append("%s (%s %s %s): Elasticsearch cannot compare two fields of a document, so the "
                              "rule does not test it" % (leaf.path, leaf.field, leaf.op, leaf.value))
        return _TRUE
    if leaf.field == "user":
        if leaf.op == "exists":
            return _user_known() if leaf.value else _Bool("not", [_user_known()])
        raise Untranslatable(leaf.path, "only `exists` is supported on `user` for Elastic (it has no single ECS field)")
    field = ECS_FIELDS.get(leaf.field)
    if field is None:
        raise Untranslatable(leaf.path + ".field", "%r has no ECS field in the Elastic mapping "
                             "(harness/elastic/querygen.py ECS_FIELDS)" % leaf.field)
    values = VALUE_MAPS.get(leaf.field)

    def value_of(v):
        if values is None:
            return v
        if v not in values:
            raise Untranslatable(leaf.path, "%s is written as %s on Elastic; %r has no equivalent"
                                 % (leaf.field, " / ".join(json.dumps(x) for x in values.values()), v))
        return values[v]

    if leaf.op == "exists":
        term = _Term(field, "exists")
        return term if leaf.value else _Bool("not", [term])
    if leaf.op == "equals":
        return _Term(field, "eq", value_of(leaf.value))
    if leaf.op == "in":
        return _Term(field, "in", [value_of(v) for v in leaf.value])
    if values is not None:
        raise Untranslatable(leaf.path, "%s is a boolean on Elastic: only equals / in / exists apply" % leaf.field)
    return _Term(field, {"contains": "contains", "starts_with": "prefix", "ends_with": "suffix"}[leaf.op], leaf.value)


def _map(node, approximations, positive=True):
    """The mapped predicate. An untestable part becomes "true" only where that widens the rule:
    under an even number of negations; ``any`` with a "true" alternative is "true" itself."""
    if isinstance(node, Leaf):
        return _map_leaf(node, approximations, positive)
    if node.kind == "not":
        return _Bool("not", [_map(node.children[0], approximations, not positive)])
    children = [_map(c, approximations, positive) for c in node.children]
    if node.kind == "any" and any(c is _TRUE for c in children):
        return _TRUE
    return _Bool(node.kind, children)


# -- KQL ------------------------------------------------------------------------------------------

def _kql_quoted(value):
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


def _kql_unquoted(value):
    if not value or any(c.isspace() for c in value) or value.lower() in ("or", "and", "not"):
        return None
    # escape exactly what the KQL parser reads as syntax in a bare value (imported here: loading a
    # detection should not pull in the parser)
    from .kql import SPECIAL_CHARACTERS

    return "".join("\\" + c if c in SPECIAL_CHARACTERS else c for c in value)


def _literal(value, quote):
    """A value as KQL and EQL both write it: booleans bare, strings quoted by ``quote``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return quote(value)


def _parts(node):
    return [c for c in node.children if c is not _TRUE]


def _compound(node):
    return isinstance(node, _Bool) and node.kind in ("all", "any") and len(_parts(node)) > 1


_JOINERS = {"all": " and ", "any": " or "}   # the same words in KQL and EQL


def _render(node, term):
    """Render a mapped predicate with one language's ``term``; compound children are
    parenthesised so the text never depends on operator precedence. None for "true"."""
    def wrap(child):
        text = render(child)
        return "(%s)" % text if _compound(child) else text

    def render(n):
        if isinstance(n, _Term):
            return term(n)
        if n.kind == "not":
            return "not %s" % wrap(n.children[0])
        parts = _parts(n)
        if not parts:
            return None
        return _JOINERS[n.kind].join(wrap(c) for c in parts)

    return render(node), wrap


def _kql_term(node):
    if node.op == "eq":
        return "%s: %s" % (node.field, _literal(node.value, _kql_quoted))
    if node.op == "in":
        return "%s: (%s)" % (node.field, " or ".join(_literal(v, _kql_quoted) for v in node.value))
    if node.op == "exists":
        return "%s: *" % node.field
    escaped = _kql_unquoted(node.value)
    if escaped is None:
        raise Untranslatable(node.field, "KQL wildcards cannot hold %r (white space or a keyword)" % node.value)
    return "%s: %s" % (node.field, {"contains": "*%s*", "prefix": "%s*", "suffix": "*%s"}[node.op] % escaped)


def _condition(mapped, term, head):
    text, wrap = _render(mapped, term)
    if text is None:
        return head
    # a top-level conjunction needs no parentheses after "head and"
    if isinstance(mapped, _Bool) and mapped.kind == "all":
        return "%s and %s" % (head, text)
    return "%s and %s" % (head, wrap(mapped))


def kql_condition(mapped):
    """The KQL text of a mapped predicate, dataset clause first."""
    return _condition(mapped, _kql_term, "%s: %s" % (DATASET_FIELD, _kql_quoted(DATASET)))


# -- EQL ------------------------------------------------------------------------------------------

def _eql_string(value):
    return json.dumps(value, ensure_ascii=False)


def _eql_term(node):
    if node.op == "eq":
        return "%s == %s" % (node.field, _literal(node.value, _eql_string))
    if node.op == "in":
        return "%s in (%s)" % (node.field, ", ".join(_literal(v, _eql_string) for v in node.value))
    if node.op == "exists":
        return "%s != null" % node.field
    func = {"contains": "stringContains", "prefix": "startsWith", "suffix": "endsWith"}[node.op]
    return "%s(%s, %s)" % (func, node.field, _eql_string(node.value))


def eql_condition(mapped):
    """The EQL condition of a mapped predicate (case-sensitive ``==`` and functions), dataset first."""
    return _condition(mapped, _eql_term, "%s == %s" % (DATASET_FIELD, _eql_string(DATASET)))


# -- the rule -------------------------------------------------------------------------------------

def mapped_predicate(spec, path, approximations):
    return _map(tree(spec, path), approximations)


def alert_user(read):
    """The view's ``user`` read back from an alert's source document (``read(ecs_field)``).

    Per-event rules do not group in Kibana: an alert is one document, which holds every identity
    field, so its user can be told exactly as the engine tells it; only threshold rules and
    sequence joins need one field (``user_field``)."""
    kind = _one(read(ECS_FIELDS["identity_type"]))
    if kind == "IAMUser":
        name = _one(read("user.name"))
        return None if name == MASKED_USER else name
    arn = _one(read(ECS_FIELDS["arn"]))
    if kind == "Root":
        account = _one(read(ECS_FIELDS["account_id"]))
        return arn or ("arn:aws:iam::%s:root" % account if account else None)
    return arn


def _one(value):
    if isinstance(value, list):
        return value[0] if value else None
    return value


def user_field(wheres):
    """The ECS field for the view's ``user`` given the predicates that admit events (see GROUP_FIELDS)."""
    types = _pinned(wheres, "identity_type")
    names = _pinned(wheres, "event_name")
    if types is not None and types <= {"IAMUser"}:
        return "user.name", False
    if (types is not None and "IAMUser" not in types) or (names is not None and names <= SESSION_ONLY_EVENTS):
        return ECS_FIELDS["arn"], False
    return "user.name", True


def _pinned(wheres, field):
    """The values ``field`` can take for the predicates to hold (None: not pinned)."""
    return union_of_sources(required_values(where, field) for where in wheres)


def generate(logic):
    """The generated rule content for one detection's ``logic`` (raises Untranslatable)."""
    approximations = []
    kind = logic["type"]
    wheres = [s["where"] for s in logic["steps"]] if kind == "sequence" else [logic["where"]]
    user, approximate_user = user_field(wheres[-1:])
    fields = dict(GROUP_FIELDS, user=user)

    def _ecs_field(name, path):
        found = fields.get(name)
        if found is None:
            raise Untranslatable(path, "%r has no ECS field in the Elastic mapping (harness/elastic/querygen.py)" % name)
        return found

    group = dict((name, _ecs_field(name, "logic.group_by[%d]" % i)) for i, name in enumerate(logic["group_by"]))
    if kind == "sequence":
        stages = []
        keys = []
        for i, step in enumerate(logic["steps"]):
            cond = eql_condition(mapped_predicate(step["where"], "logic.steps[%d].where" % i, approximations))
            by = [_ecs_field(f, "logic.steps[%d].by[%d]" % (i, j)) for j, f in enumerate(step["by"])]
            keys.append(by)
            runs = step.get("min_count", 1)
            stages.append((cond, by, runs))
        same = all(k == keys[0] for k in keys)
        lines = ["sequence%s with maxspan={window}" % (" by " + ", ".join(keys[0]) if same else "")]
        for cond, by, runs in stages:
            line = "  [any where %s]" % cond
            if not same:
                line += " by " + ", ".join(by)
            if runs > 1:
                line += " with runs=%d" % runs
            lines.append(line)
        for field in logic.get("differ") or ():
            approximations.append("logic.differ (%s must differ between the steps): an EQL sequence cannot compare "
                                  "a field across its stages, so the rule also fires when it is the same" % field)
        # the sequence's alert group is the last stage's first len(group_by) keys
        group = dict((name, keys[-1][i]) for i, name in enumerate(logic["group_by"]))
        return Generated("eql", "eql", "\n".join(lines), group, approximations=approximations,
                         approximate_user=approximate_user)
    query = kql_condition(mapped_predicate(logic["where"], "logic.where", approximations))
    if kind == "event":
        # a per-document alert's user is read from the whole document (alert_user): exact
        return Generated("query", "kuery", query, group, approximations=approximations,
                         user_from_document="user" in group)
    partition = []
    outcomes = _pinned([logic["where"]], "outcome")
    if approximate_user and "user" in group and outcomes == {"success"}:
        # A successful sign-in always names its identity's ARN (notes/vendor-rules.md §3: the ARN is
        # missing only on failures), so successes can also be split by ARN: each role session counts
        # alone, as in the engine, instead of every session of a role together under user.name.
        partition = [ECS_FIELDS["arn"]]
    if kind == "new_terms":
        # The term is the group; with successes only, "user" is the ARN (one per identity, as the
        # engine keys it). Kibana alerts per document, so the alert's user is read from it exactly.
        terms = [partition[0] if name == "user" and partition else group[name] for name in logic["group_by"]]
        return Generated("new_terms", "kuery", query, group, approximations=approximations,
                         approximate_user=approximate_user and not partition, user_from_document="user" in group,
                         new_terms_fields=terms)
    cardinality = _ecs_field(logic["distinct"], "logic.distinct") if kind == "distinct" else None
    return Generated("threshold", "kuery", query, group, cardinality_field=cardinality, approximations=approximations,
                     approximate_user=approximate_user and not partition, partition_fields=partition)


def group_notes(logic, generated):
    """The sentences a rule's setup guide carries for the group fields whose meaning differs."""
    if logic.get("steps"):
        # a sequence groups and joins on its steps' key fields
        names = [f for step in logic["steps"] for f in step["by"]]
    else:
        names = list(logic["group_by"]) + ([logic["distinct"]] if logic.get("distinct") else [])
    notes = [GROUP_NOTES[n] for n in dict.fromkeys(names)
             if n in GROUP_NOTES and (n != "user" or generated.approximate_user)]
    if generated.partition_fields:
        notes.append(GROUP_NOTES["user_by_arn"])
    return notes
