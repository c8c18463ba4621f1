"""The generated catalog page (docs/detections.md) and the ATT&CK Navigator layer (dist/attack-navigator.json)."""

import copy
import json
import re

import pytest

from harness import build, docs, navigator
from harness.detections import load_all
from harness.elastic import attack


@pytest.fixture
def detections(layout):
    return load_all(layout.detections)


def _section(page, detection_id):
    """The text of one detection's section: from its anchor to the next one."""
    start = page.index('<a id="%s"></a>' % detection_id)
    nxt = page.find('<a id="', start + 1)
    return page[start:nxt if nxt != -1 else len(page)]


# ---------------------------------------------------------------------------------------------------
# docs/detections.md
# ---------------------------------------------------------------------------------------------------

def test_the_page_is_a_committed_generated_file(layout, detections):
    assert "harness.docs" in build.PLATFORM_MODULES
    files = build.generated_files(layout, detections)
    assert docs.page_path(layout) in files
    assert docs.page_path(layout) == layout.root / "docs" / "detections.md"


def test_the_page_lists_every_detection_file(layout, detections):
    page = docs.render(detections)
    ids = sorted(p.stem for p in layout.detections.glob("*.yml"))
    assert ids, "no detection files"
    summary = page.split("## Summary", 1)[1].split('<a id="', 1)[0]
    rows = [line for line in summary.splitlines() if line.startswith("| [")]
    assert [re.match(r"\| \[`([^`]+)`\]", r).group(1) for r in rows] == ids  # one row each, sorted by id
    titles = {d.id: d.data["title"] for d in detections}
    for i in ids:
        section = _section(page, i)
        assert "## %s\n" % titles[i] in section
        assert "- **id**: `%s`" % i in section


def test_each_section_carries_what_the_platforms_ship(detections):
    from harness.elastic.rules import kibana_rule
    from harness.splunk import appbuild

    page = docs.render(detections)
    for det in detections:
        section = _section(page, det.id)
        rule = kibana_rule(det)
        assert rule["rule_id"] in section
        assert "Kibana `%s` rule" % rule["type"] in section
        assert "runs every %s looking back to `%s`" % (rule["interval"], rule["from"]) in section
        assert "`%s`" % appbuild.stanza_name(det) in section
        assert "`%s`" % appbuild.schedule(det).cron in section
        assert "(risk score %d)" % det.data["risk_score"] in section
        for m in det.data["mitre"]:
            ref = attack.technique(m["technique"])
            assert re.search(r"\[%s [^]]*%s\]\(%s\)" % (re.escape(ref["id"]), re.escape(ref["name"]),
                                                          re.escape(ref["reference"])), section)
        for ref in det.data["references"]:
            assert "%s (%s: %s)" % (ref["id"], ref["vendor"], ref["rule"]) in section


def test_elastic_prebuilt_rules_come_from_the_references(detections):
    page = docs.render(detections)
    brute = _section(page, "root_console_brute_force")
    prebuilt = brute.split("### Elastic prebuilt rule covering the same behaviour", 1)[1]
    assert "- E1: AWS Management Console Brute Force of Root User Identity" in prebuilt
    assert "P2" not in prebuilt  # Panther's rule is covered, but it is not an Elastic prebuilt rule
    token = _section(page, "signin_token_abuse")
    assert "None." in token.split("### Elastic prebuilt rule covering the same behaviour", 1)[1]


def test_a_changed_threshold_changes_the_page(layout, detections):
    before = docs.render(detections)
    changed = copy.deepcopy(detections)
    brute = [d for d in changed if d.id == "root_console_brute_force"][0]
    old = brute.data["logic"]["threshold"]
    brute.data["logic"]["threshold"] = old + 2
    after = docs.render(changed)
    assert after != before
    section = _section(after, "root_console_brute_force")
    assert "at least **%d** qualifying events" % (old + 2) in section
    assert "count >= %d per" % (old + 2) in section  # the Kibana rule's threshold, via kibana_rule
    # and the freshness check sees it
    assert build.generated_files(layout, changed)[docs.page_path(layout)] != \
        docs.page_path(layout).read_text(encoding="utf-8")


def test_known_differences_and_building_blocks_are_shown(detections):
    det = copy.deepcopy([d for d in detections if d.id == "root_console_login"][0])
    det.data["building_block"] = True
    det.data["known_differences"] = [{
        "platform": "elastic",
        "where": {"field": "mfa_used", "equals": "YES"},
        "why": "the AWS integration's pipeline maps only Yes and No to a boolean",
    }]
    section = docs.section(det)
    assert "- **Building block**: yes" in section
    assert "### Known platform differences" in section
    assert "**Elastic**" in section and "`mfa_used` is `YES`" in section
    assert "maps only Yes and No" in section
    plain = docs.section([d for d in detections if d.id == "root_console_login"][0])
    assert "### Known platform differences" not in plain


def test_the_page_is_deterministic(detections):
    assert docs.render(detections) == docs.render(list(reversed(detections)))
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", docs.render(detections))


# ---------------------------------------------------------------------------------------------------
# dist/attack-navigator.json
# ---------------------------------------------------------------------------------------------------

# Layer file format v4.5 (mitre-attack/attack-navigator, layers/spec/v4.5/layerformat.md).
TECHNIQUE_ID = re.compile(r"^T\d{4}(\.\d{3})?$")
TACTIC_SHORTNAMES = {"reconnaissance", "resource-development", "initial-access", "execution", "persistence",
                     "privilege-escalation", "defense-evasion", "credential-access", "discovery",
                     "lateral-movement", "collection", "command-and-control", "exfiltration", "impact"}
TOP_LEVEL = {"versions", "name", "description", "domain", "customDataURL", "filters", "sorting", "layout",
             "hideDisabled", "techniques", "gradient", "legendItems", "showTacticRowBackground",
             "tacticRowBackground", "selectTechniquesAcrossTactics", "selectSubtechniquesWithParent",
             "selectVisibleTechniques", "metadata", "links"}
TECHNIQUE_KEYS = {"techniqueID", "tactic", "comment", "enabled", "score", "color", "metadata", "links",
                  "showSubtechniques"}


def layer_problems(layer):
    """What in ``layer`` breaks the v4.5 layer format (empty when nothing does)."""
    problems = []
    if not isinstance(layer, dict):
        return ["a layer is a JSON object"]
    for key in ("name", "domain"):
        if not isinstance(layer.get(key), str) or not layer.get(key):
            problems.append("%s is required (string)" % key)
    problems += ["unknown top-level key %s" % k for k in sorted(set(layer) - TOP_LEVEL)]
    if layer.get("domain") not in ("enterprise-attack", "mobile-attack", "ics-attack"):
        problems.append("domain %r" % layer.get("domain"))
    versions = layer.get("versions")
    if not isinstance(versions, dict):
        problems.append("versions must be an object")
    else:
        if versions.get("layer") != "4.5":
            problems.append("versions.layer must be 4.5")
        nav = versions.get("navigator")
        if not isinstance(nav, str) or tuple(int(x) for x in nav.split(".")) < (4, 9, 0):
            problems.append("versions.navigator must be at least 4.9.0")
        if "attack" in versions and not isinstance(versions["attack"], str):
            problems.append("versions.attack must be a string")
    if not isinstance(layer.get("sorting", 0), int) or layer.get("sorting", 0) not in (0, 1, 2, 3):
        problems.append("sorting must be 0..3")
    for i, t in enumerate(layer.get("techniques", [])):
        where = "techniques[%d]" % i
        if not isinstance(t, dict) or not TECHNIQUE_ID.match(str(t.get("techniqueID", ""))):
            problems.append("%s.techniqueID" % where)
            continue
        problems += ["%s: unknown key %s" % (where, k) for k in sorted(set(t) - TECHNIQUE_KEYS)]
        if "tactic" in t and t["tactic"] not in TACTIC_SHORTNAMES:
            problems.append("%s.tactic %r is not a tactic shortname" % (where, t["tactic"]))
        if "score" in t and (isinstance(t["score"], bool) or not isinstance(t["score"], (int, float))):
            problems.append("%s.score must be a number" % where)
        if not isinstance(t.get("comment", ""), str) or not isinstance(t.get("enabled", True), bool):
            problems.append("%s.comment / enabled types" % where)
        for m in t.get("metadata", []):
            if not (m == {"divider": True} or (set(m) == {"name", "value"}
                                               and all(isinstance(v, str) for v in m.values()))):
                problems.append("%s.metadata entry %r" % (where, m))
    gradient = layer.get("gradient")
    if gradient is not None:
        if len(gradient.get("colors", [])) < 2:
            problems.append("gradient needs at least two colors")
        if not gradient.get("maxValue", 0) > gradient.get("minValue", 0):
            problems.append("gradient maxValue must be > minValue")
    for item in layer.get("legendItems", []):
        if set(item) != {"label", "color"}:
            problems.append("legend item %r" % item)
    for m in layer.get("metadata", []):
        if not (m == {"divider": True} or set(m) == {"name", "value"}):
            problems.append("layer metadata entry %r" % m)
    return problems


def test_the_validator_catches_a_broken_layer():
    # the structure check must be able to fail
    assert layer_problems({"name": "x", "domain": "enterprise-attack",
                           "versions": {"layer": "4.5", "navigator": "5.1.0"}}) == []
    broken = {"name": "x", "domain": "mitre-enterprise", "versions": {"layer": "4.3", "navigator": "4.0.0"},
              "techniques": [{"techniqueID": "T1078.4", "tactic": "TA0001"},
                             {"techniqueID": "T1110", "tactic": "Credential Access", "score": "2"}],
              "gradient": {"colors": ["#ffffff"], "minValue": 0, "maxValue": 0}}
    assert len(layer_problems(broken)) >= 6


def test_the_layer_fits_the_v4_5_layer_format(detections):
    layer = json.loads(navigator.layer_json(detections))
    for key in ("name", "domain", "versions", "techniques"):
        assert key in layer
    assert layer["domain"] == "enterprise-attack"
    assert layer["versions"]["layer"] == "4.5"
    assert layer["versions"]["navigator"].startswith("5.")
    assert int(layer["versions"]["attack"]) >= 16
    assert layer_problems(layer) == []


def test_the_layer_annotates_each_technique_under_the_detections_tactics(detections):
    layer = navigator.layer(detections)
    expected = {}
    for det in detections:
        for m in det.data["mitre"]:
            for ta in m["tactics"]:
                expected.setdefault((m["technique"], attack.tactic_shortname(ta)), set()).add(det.id)
    got = {(t["techniqueID"], t["tactic"]): t for t in layer["techniques"]}
    assert set(got) == set(expected)
    for key, ids in expected.items():
        assert got[key]["score"] == len(ids)
        assert [m["value"] for m in got[key]["metadata"]] == sorted(ids)
        for i in ids:
            assert i in got[key]["comment"]
    assert layer["gradient"]["maxValue"] == max(len(v) for v in expected.values())


def test_a_technique_used_by_two_detections_scores_two(detections):
    a, b, c = copy.deepcopy(detections[:3])
    a.data["mitre"] = [{"technique": "T1110.001", "tactics": ["TA0006"]}]
    b.data["mitre"] = [{"technique": "T1110.001", "tactics": ["TA0006"]},
                       {"technique": "T1621", "tactics": ["TA0006"]}]
    c.data["mitre"] = [{"technique": "T1539", "tactics": ["TA0006"]}]
    techniques = {t["techniqueID"]: t for t in navigator.layer([a, b, c])["techniques"]}
    assert set(techniques) == {"T1110.001", "T1621", "T1539"}
    guessing = techniques["T1110.001"]
    assert guessing["score"] == 2
    assert guessing["tactic"] == "credential-access"
    assert [m["value"] for m in guessing["metadata"]] == sorted([a.id, b.id])
    assert a.id in guessing["comment"] and b.id in guessing["comment"] and c.id not in guessing["comment"]
    assert techniques["T1621"]["score"] == 1 and techniques["T1539"]["score"] == 1


def test_a_tactic_the_technique_is_not_filed_under_names_the_detection(detections):
    det = copy.deepcopy(detections[0])
    det.data["mitre"] = [{"technique": "T1110.001", "tactics": ["TA0001"]}]
    with pytest.raises(ValueError) as err:
        navigator.layer([det])
    assert "mitre[0].tactics[0]" in str(err.value) and det.path.name in str(err.value)


def test_build_writes_the_layer_under_dist(layout, detections, tmp_path):
    from harness.project import Layout

    assert "harness.navigator" in build.PLATFORM_MODULES
    assert navigator.navigator_layer in build.DISTRIBUTABLES
    other = Layout(layout.root)
    other.dist = tmp_path / "dist"
    paths = navigator.navigator_layer(other, detections)
    assert paths == [tmp_path / "dist" / "attack-navigator.json"]
    assert json.loads(paths[0].read_text(encoding="utf-8")) == navigator.layer(detections)
    assert list((tmp_path / "dist").iterdir()) == paths  # no temporary file left behind
