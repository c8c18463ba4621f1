"""Lint of the Elastic artefacts: each detection's query within what the local evaluators run
faithfully (KQL/EQL subset, mapped fields only), and its exported rule valid for Kibana."""

from ..detections import DetectionError
from . import eql, kql
from .mapping import field_type
from .rules import elastic_query, kibana_rule, query_field, schema_problem


def lint_rules(layout, detections):
    problems = []
    for det in detections:
        try:
            rule = kibana_rule(det)
        except (DetectionError, ValueError) as err:
            problems.append(str(err))
            continue
        try:
            text = elastic_query(det)
            if rule["language"] == "eql":
                eql.check(text, field_type=field_type,
                          category_field=rule.get("event_category_override", "event.category"))
            else:
                kql.check(text)
        except (kql.KqlError, eql.EqlError) as err:
            problems.append(str(det.error(query_field(det), str(err))))
        problem = schema_problem(rule)
        if problem:
            problems.append("%s: the exported Kibana rule is invalid: %s" % (det.path, problem))
    return problems
