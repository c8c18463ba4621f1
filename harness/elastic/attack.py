"""MITRE ATT&CK names and references for the ``threat`` field of Kibana rules.

Kibana stores ATT&CK as ``[{framework, tactic: {id, name, reference}, technique: [{id, name,
reference, subtechnique: [...]}]}]``, one entry per tactic, sub-techniques nested under their
parent technique (rule_schema ``Threat`` / ``ThreatTechnique`` / ``ThreatSubtechnique``).

The table holds the Enterprise tactics and the techniques the detection catalog uses (plus their
parents), with the tactics ATT&CK files each technique under (ATT&CK Enterprise v15/v16). A
detection that names an id missing here, or pairs a technique with a tactic ATT&CK does not file
it under, is an error: add the id here after checking it on attack.mitre.org.
"""

FRAMEWORK = "MITRE ATT&CK"

TACTICS = {
    "TA0043": "Reconnaissance",
    "TA0042": "Resource Development",
    "TA0001": "Initial Access",
    "TA0002": "Execution",
    "TA0003": "Persistence",
    "TA0004": "Privilege Escalation",
    "TA0005": "Defense Evasion",
    "TA0006": "Credential Access",
    "TA0007": "Discovery",
    "TA0008": "Lateral Movement",
    "TA0009": "Collection",
    "TA0011": "Command and Control",
    "TA0010": "Exfiltration",
    "TA0040": "Impact",
}

# Tactic id -> the tactic's ATT&CK shortname (x_mitre_shortname), which ATT&CK Navigator layers use
# in a technique's "tactic" field.
TACTIC_SHORTNAMES = {
    "TA0043": "reconnaissance",
    "TA0042": "resource-development",
    "TA0001": "initial-access",
    "TA0002": "execution",
    "TA0003": "persistence",
    "TA0004": "privilege-escalation",
    "TA0005": "defense-evasion",
    "TA0006": "credential-access",
    "TA0007": "discovery",
    "TA0008": "lateral-movement",
    "TA0009": "collection",
    "TA0011": "command-and-control",
    "TA0010": "exfiltration",
    "TA0040": "impact",
}

# id -> (name, tactics the technique is filed under). Sub-techniques share their parent's tactics.
TECHNIQUES = {
    "T1021": ("Remote Services", ("TA0008",)),
    "T1021.007": ("Cloud Services", ("TA0008",)),
    "T1078": ("Valid Accounts", ("TA0001", "TA0003", "TA0004", "TA0005")),
    "T1078.004": ("Cloud Accounts", ("TA0001", "TA0003", "TA0004", "TA0005")),
    "T1098": ("Account Manipulation", ("TA0003", "TA0004")),
    "T1098.001": ("Additional Cloud Credentials", ("TA0003", "TA0004")),
    "T1110": ("Brute Force", ("TA0006",)),
    "T1110.001": ("Password Guessing", ("TA0006",)),
    "T1110.003": ("Password Spraying", ("TA0006",)),
    "T1110.004": ("Credential Stuffing", ("TA0006",)),
    "T1136": ("Create Account", ("TA0003",)),
    "T1136.003": ("Cloud Account", ("TA0003",)),
    "T1539": ("Steal Web Session Cookie", ("TA0006",)),
    "T1550": ("Use Alternate Authentication Material", ("TA0005", "TA0008")),
    "T1550.001": ("Application Access Token", ("TA0005", "TA0008")),
    "T1552": ("Unsecured Credentials", ("TA0006",)),
    "T1552.005": ("Cloud Instance Metadata API", ("TA0006",)),
    "T1589": ("Gather Victim Identity Information", ("TA0043",)),
    "T1589.001": ("Credentials", ("TA0043",)),
    "T1621": ("Multi-Factor Authentication Request Generation", ("TA0006",)),
}


class AttackError(ValueError):
    """An ATT&CK id this table does not know, or a technique paired with the wrong tactic."""


def tactic(tactic_id):
    """{id, name, reference} for a tactic id such as TA0006."""
    if tactic_id not in TACTICS:
        raise AttackError("unknown ATT&CK tactic %r (known: %s)" % (tactic_id, ", ".join(sorted(TACTICS))))
    return {"id": tactic_id, "name": TACTICS[tactic_id],
            "reference": "https://attack.mitre.org/tactics/%s/" % tactic_id}


def tactic_shortname(tactic_id):
    """The ATT&CK shortname of a tactic id: TA0001 -> initial-access."""
    tactic(tactic_id)
    return TACTIC_SHORTNAMES[tactic_id]


def technique(technique_id):
    """{id, name, reference} for a technique or sub-technique id (T1110, T1110.001)."""
    if technique_id not in TECHNIQUES:
        raise AttackError("unknown ATT&CK technique %r: add it to harness/elastic/attack.py "
                          "(known: %s)" % (technique_id, ", ".join(sorted(TECHNIQUES))))
    path = technique_id.replace(".", "/")
    return {"id": technique_id, "name": TECHNIQUES[technique_id][0],
            "reference": "https://attack.mitre.org/techniques/%s/" % path}


def check_pair(technique_id, tactic_id):
    """Raise AttackError unless ATT&CK files ``technique_id`` under ``tactic_id``."""
    technique(technique_id)
    tactic(tactic_id)
    allowed = TECHNIQUES[technique_id][1]
    if tactic_id not in allowed:
        raise AttackError("%s (%s) is not an ATT&CK technique of tactic %s (%s); it belongs to %s"
                          % (technique_id, TECHNIQUES[technique_id][0], tactic_id, TACTICS[tactic_id],
                             ", ".join("%s %s" % (t, TACTICS[t]) for t in allowed)))


def threat(mitre):
    """Kibana ``threat`` from a detection's ``mitre`` list ([{technique, tactics: [...]}]).

    One entry per tactic, in the order tactics first appear; techniques in first-appearance order,
    a sub-technique nested under its parent (listing both parent and sub-technique merges them).
    Raises AttackError with ``.index`` (mitre entry) and ``.tactic_index`` (None for the technique).
    """
    by_tactic = {}
    order = []
    for i, entry in enumerate(mitre):
        tid = entry["technique"]
        try:
            technique(tid)
        except AttackError as err:
            err.index, err.tactic_index = i, None
            raise
        for j, ta in enumerate(entry["tactics"]):
            try:
                check_pair(tid, ta)
            except AttackError as err:
                err.index, err.tactic_index = i, j
                raise
            if ta not in by_tactic:
                by_tactic[ta] = []
                order.append(ta)
            _add_technique(by_tactic[ta], tid)
    return [{"framework": FRAMEWORK, "tactic": tactic(ta), "technique": by_tactic[ta]} for ta in order]


def _add_technique(techniques, tid):
    parent_id = tid.split(".")[0]
    parent = next((t for t in techniques if t["id"] == parent_id), None)
    if parent is None:
        parent = technique(parent_id)
        techniques.append(parent)
    if tid != parent_id:
        subs = parent.setdefault("subtechnique", [])
        if not any(s["id"] == tid for s in subs):
            subs.append(technique(tid))
