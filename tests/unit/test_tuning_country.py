"""Tuning for the geo detections: ``country`` entries (the countries a user or an account is expected
in) and VPN egress ranges, compiled to each platform and applied by ``awssignin test --tuning``."""

import textwrap
from pathlib import Path

import pytest

from harness import geoip
from harness.detections import load_all
from harness.project import Layout
from harness.testing import run_tests
from harness.tuning import TuningError, load
from harness.tuning import elastic as tuned_elastic
from harness.tuning import splunk as tuned_splunk
from harness.tuning.apply import TestRunTuning

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dets():
    return load_all(ROOT / "detections")


def tuning(tmp_path, dets, text):
    path = tmp_path / "site.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load(path, dets)


def test_a_country_needs_a_principal_or_an_account_and_a_known_code(tmp_path, dets):
    with pytest.raises(TuningError) as err:
        tuning(tmp_path, dets, "allow:\n  - {name: us, country: US}\n")
    assert "allow[0].country: a country is allowed only together with a principal or an account" in str(err.value)
    with pytest.raises(TuningError) as err:
        tuning(tmp_path, dets, "allow:\n  - {name: uk, account: '111122223333', country: UK}\n")
    assert "allow[0].country: 'UK' is not an ISO 3166-1 alpha-2 country code" in str(err.value)


def test_a_country_entry_compiles_to_the_country_name_on_splunk_and_the_iso_code_on_elastic(tmp_path, dets):
    loaded = tuning(tmp_path, dets, """\
        allow:
          - name: alice-abroad
            principal: {account: "111122223333", user_name: alice}
            country: [DE, GB]
        """)
    (entry,) = loaded.entries
    search = tuned_splunk.entry_search(entry)
    assert '(Country="Germany" OR Country="United Kingdom")' in search     # what iplocation writes
    (item,) = tuned_elastic.entry_items(entry)
    assert {"field": "source.geo.country_iso_code", "operator": "included", "type": "match_any",
            "value": ["DE", "GB"]} in item


def test_country_and_vpn_entries_remove_the_geo_alerts_on_both_platforms(tmp_path, dets):
    layout = Layout(ROOT)
    loaded = tuning(tmp_path, dets, """\
        detections:
          login_multiple_countries:
            allow:
              - name: alice-in-germany
                principal: {account: "111122223333", user_name: alice}
                country: DE
              - name: vpn-egress
                source_ip: 2001:db8::/48
        """)
    det = next(d for d in dets if d.id == "login_multiple_countries")
    with geoip.fixture_database(layout.detections / "fixtures") as geo:
        if geo is None:
            pytest.skip("mmdb-writer is not installed (the test extra)")
        with geoip.use(geo):
            tested = TestRunTuning(layout, loaded, [det])
            try:
                outcomes = run_tests(layout, [det], tuning=tested, workers=1)
            finally:
                tested.close()
    assert all(o.status == "pass" for o in outcomes)
    rows = dict(((t, p), (before, after)) for _, t, p, before, after, _, _ in tested.rows)
    alice, frank = det.data["tests"][0]["name"], det.data["tests"][4]["name"]
    for platform in ("splunk", "elastic"):
        assert rows[(alice, platform)] == (1, 0)      # Germany is expected for alice: one country left
        assert rows[(frank, platform)] == (1, 0)      # the VPN's Swedish egress counts as no country
        assert tested.events[(platform, "login_multiple_countries/alice-in-germany")] >= 1
        assert tested.events[(platform, "login_multiple_countries/vpn-egress")] == 1
