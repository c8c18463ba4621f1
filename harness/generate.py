"""Each platform's artefact generated from a detection's one ``logic`` (DESIGN.md, "The detection file").

``resolve(detection)`` runs at load time. It keeps what the author wrote in ``detection.authored``
and fills ``detection.data`` with the generated sections every platform layer reads:

- ``splunk.search``: the base search from harness/splunk/searchgen.py, or the file's
  ``splunk.override.search`` (which needs a written ``reason``);
- ``elastic.type`` / ``language`` / ``query`` / ``group_fields`` / ``cardinality_field`` /
  ``new_terms_fields``: from harness/elastic/querygen.py, or the query of ``elastic.override`` (the rule type stays generated);
- ``elastic.setup``: the author's setup text plus what the generator knows the rule cannot mean
  exactly as the logic does (``platform_notes``).

So a threshold, a window, a group or a predicate is written once, in ``logic``, and nothing else in
the file can contradict it; harness/equivalence.py checks the generated or overridden artefacts
against the logic record by record.
"""

import copy

from .elastic import querygen
from .splunk import searchgen


def platform_notes(logic, generated):
    """Sentences for the rule's setup guide and the catalog page: where Elastic cannot mean what
    the logic means (approximated predicates, group fields without an ECS equivalent)."""
    return list(generated.approximations) + querygen.group_notes(logic, generated)


def resolve(detection):
    """Fill ``detection.data`` with the generated platform sections (raises detection.error)."""
    # the generated sections go into a copy; what the file says stays as loaded
    detection.authored = detection.data
    data = copy.deepcopy(detection.authored)
    logic = data["logic"]
    try:
        generated = querygen.generate(logic)
    except querygen.Untranslatable as err:
        raise detection.error(err.path, "cannot be written for Elastic: %s" % str(err).split(": ", 1)[-1])
    detection.generated = generated

    splunk = dict(data.get("splunk") or {})
    override = splunk.pop("override", None)
    splunk["search"] = override["search"] if override else searchgen.base_search(logic)
    data["splunk"] = splunk

    elastic = dict(data["elastic"])
    override = elastic.pop("override", None)
    elastic.update({
        "type": generated.type,
        "language": generated.language,
        "query": override["query"] if override else generated.query,
        "group_fields": dict(generated.group_fields),
    })
    if generated.partition_fields:
        elastic["partition_fields"] = list(generated.partition_fields)
    if generated.cardinality_field:
        elastic["cardinality_field"] = generated.cardinality_field
    if generated.user_from_document:
        elastic["user_from_document"] = True
    if generated.new_terms_fields:
        elastic["new_terms_fields"] = list(generated.new_terms_fields)
    if generated.type == "eql":
        # DESIGN.md: events of one eventTime are ordered by eventID, on Elastic too
        elastic["tiebreaker_field"] = "event.id"
    notes = platform_notes(logic, generated)
    if notes:
        text = "## How this rule differs from the Splunk app\n" + "".join("- %s\n" % n for n in notes)
        elastic["setup"] = ((elastic.get("setup") or "").strip() + "\n\n" + text).strip() + "\n"
    data["elastic"] = elastic
    detection.data = data
    return detection
