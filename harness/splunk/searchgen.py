"""The Splunk backend: a detection's ``logic`` -> the saved search's base search.

On Splunk the logic itself runs in the ``awssignin`` command (the engine), so the base search is a
prefilter: it only has to keep every event the logic can accept, and should drop as much of the
rest as it can, because what it keeps is what splunkd ships to the command. So it is generated to
be *wider* than the logic, never narrower, and the equivalence check (harness/equivalence.py)
holds it to that: a record the logic accepts and the base search drops is an error.

Field mapping: a sign-in view field that is one raw CloudTrail field is searched under its JSON
path (the ``aws:cloudtrail`` sourcetype's search-time JSON extraction). Derived fields (``outcome``,
``user``, ``account_id``: each reads several raw fields) and canonicalised ones (``mfa_used`` is
case-normalised, which Splunk's case-insensitive match already covers) are left to the command.

Which parts of a predicate become search terms:
- a positive leaf on a raw field (equals, in, contains, starts_with, ends_with, exists). Splunk
  compares values case-insensitively, which only widens: the command compares exactly;
- ``all``: the conjunction of what its children give (a child that gives nothing is dropped,
  which widens);
- ``any``: the disjunction, only when every child gives a term (else nothing: dropping one
  alternative would narrow);
- ``not``: nothing. ``NOT field=value`` would drop values differing only in case, which the
  engine's exact comparison keeps, so a negation can never be a prefilter.
"""

from ..predicate_ast import Leaf, tree

# view field -> raw JSON path, for the fields the view copies from one raw field unchanged
# (awssignin.normalize: _text of one path, no fallback, no canonicalisation but case)
RAW_FIELDS = {
    "event_id": "eventID",
    "event_source": "eventSource",
    "event_name": "eventName",
    "event_type": "eventType",
    "region": "awsRegion",
    "source_ip": "sourceIPAddress",
    "user_agent": "userAgent",
    "error_code": "errorCode",
    "error_message": "errorMessage",
    "identity_type": "userIdentity.type",
    "principal_id": "userIdentity.principalId",
    "arn": "userIdentity.arn",
    "user_name": "userIdentity.userName",
    "session_issuer_type": "userIdentity.sessionContext.sessionIssuer.type",
    "session_issuer_arn": "userIdentity.sessionContext.sessionIssuer.arn",
    "session_issuer_user_name": "userIdentity.sessionContext.sessionIssuer.userName",
    "mfa_authenticated": "userIdentity.sessionContext.attributes.mfaAuthenticated",
    "mfa_used": "additionalEventData.MFAUsed",
    "login_to": "additionalEventData.LoginTo",
    "saml_provider_arn": "additionalEventData.SamlProviderArn",
    "request_user_name": "requestParameters.userName",
    "recipient_account_id": "recipientAccountId",
}


# view fields the command reads from what an SPL command before it adds to the events, and that
# command: ``source_country`` comes from the ``Country`` field of ``iplocation`` (awssignin/geo.py)
ENRICHMENTS = {"source_country": "iplocation sourceIPAddress"}


def fields_read(logic):
    """Every sign-in view field ``logic`` reads: its predicates, group, distinct field."""
    from awssignin.predicates import fields_used

    wheres = [s["where"] for s in logic["steps"]] if logic["type"] == "sequence" else [logic["where"]]
    found = set(logic.get("group_by") or ())
    for where in wheres:
        found |= fields_used(where)
    for step in logic.get("steps") or ():
        found |= set(step["by"])
    if logic.get("distinct"):
        found.add(logic["distinct"])
    return found


def enrichments(logic):
    """The SPL stages the saved search must run before the command for ``logic`` (in order)."""
    read = fields_read(logic)
    return list(dict.fromkeys(stage for field, stage in sorted(ENRICHMENTS.items()) if field in read))


def _quoted(value):
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


def _pattern(op, value):
    """A quoted SPL value for a substring match, or None when the value holds a wildcard itself
    (Splunk has no escape for ``*`` in a search term)."""
    if "*" in value:
        return None
    return _quoted({"contains": "*%s*", "starts_with": "%s*", "ends_with": "*%s"}[op] % value)


def _term(leaf):
    path = RAW_FIELDS.get(leaf.field)
    if path is None:
        return None
    if leaf.op == "exists":
        return "%s=*" % path if leaf.value else None
    if leaf.op == "equals":
        return None if "*" in leaf.value else "%s=%s" % (path, _quoted(leaf.value))
    if leaf.op == "in":
        if any("*" in v for v in leaf.value):
            return None
        return "%s IN (%s)" % (path, ", ".join(_quoted(v) for v in leaf.value))
    if leaf.op in ("contains", "starts_with", "ends_with"):
        pattern = _pattern(leaf.op, leaf.value)
        return None if pattern is None else "%s=%s" % (path, pattern)
    return None  # equals_field / differs_from: two fields of one event, the command's job


def _prefilter(node):
    """Search text that keeps at least what ``node`` accepts, or None for "no restriction"."""
    if isinstance(node, Leaf):
        return _term(node)
    if node.kind == "not":
        return None
    parts = [_prefilter(c) for c in node.children]
    if node.kind == "all":
        kept = [p for p in parts if p is not None]
        if not kept:
            return None
        return " ".join("(%s)" % p if " OR " in p else p for p in kept)
    if any(p is None for p in parts):
        return None
    return " OR ".join("(%s)" % p if " " in p and not p.startswith("(") else p for p in parts)


def base_search(logic):
    """The generated base search for ``logic`` (placed after the data macro)."""
    wheres = [s["where"] for s in logic["steps"]] if logic["type"] == "sequence" else [logic["where"]]
    texts = [_prefilter(tree(w)) for w in wheres]
    if any(t is None for t in texts):
        # a step without any restriction: the command must see every event
        return "*"
    if len(texts) == 1:
        return texts[0]
    unique = list(dict.fromkeys(texts))
    if len(unique) == 1:
        return unique[0]
    return " OR ".join("(%s)" % t for t in unique)
