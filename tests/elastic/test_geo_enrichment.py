"""``source.geo`` / ``source.as`` as the AWS integration's CloudTrail pipeline writes them
(harness/elastic/geo.py, called by ``to_ecs``).

The pipeline's own tests (tests/data/elastic_pipeline, from elastic/integrations) ran against
MaxMind's test databases; their expected documents say what those databases hold for the test
addresses. A database built here with the same facts must give the same ``source`` object.
"""

import json
from pathlib import Path

import pytest

import geodb
from harness import geoip
from harness.elastic.ecs import to_ecs
from harness.elastic.geo import geo_fields

DATA = Path(__file__).resolve().parent.parent / "data" / "elastic_pipeline"

# what the expected documents show for the test addresses (MaxMind's GeoLite2 test data)
LINKOPING = {"continent": {"names": {"en": "Europe"}},
             "country": {"iso_code": "SE", "names": {"en": "Sweden"}},
             "subdivisions": [{"iso_code": "E", "names": {"en": "Östergötland County"}}],
             "city": {"names": {"en": "Linköping"}},
             "location": {"latitude": 58.4167, "longitude": 15.6167}}
LONDON = {"continent": {"names": {"en": "Europe"}},
          "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
          "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}],
          "city": {"names": {"en": "London"}},
          "location": {"latitude": 51.5142, "longitude": -0.0931}}


@pytest.fixture(scope="module")
def pipeline_geo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("geo")
    city = geodb.write(tmp / "GeoLite2-City-Test.mmdb", {"89.160.20.156/32": LINKOPING, "81.2.69.144/32": LONDON})
    asn = geodb.asn_db(tmp, {"89.160.20.0/24": (29518, "Bredband2 AB")}, name="GeoLite2-ASN-Test.mmdb")
    geo = geoip.open_databases([city, asn])
    yield geo
    geo.close()


@pytest.mark.parametrize("name", ["test-console-login-json.log", "test-assume-role-email-session-json.log",
                                  "test-change-password-json.log"])
def test_pipeline_vectors_source_object(pipeline_geo, name):
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    expected = json.loads((DATA / (name + "-expected.json")).read_text(encoding="utf-8"))["expected"]
    assert len(lines) == len(expected)
    for line, want in zip(lines, expected):
        doc = to_ecs(json.loads(line), geo=pipeline_geo)
        assert doc.get("source") == want.get("source")


def test_the_database_in_use_is_the_default_and_none_adds_nothing(pipeline_geo):
    record = json.loads((DATA / "test-console-login-json.log").read_text(encoding="utf-8").splitlines()[0])
    with geoip.use(None):
        assert "geo" not in to_ecs(record)["source"]
    with geoip.use(pipeline_geo):
        assert to_ecs(record)["source"]["geo"]["country_iso_code"] == "SE"
        assert to_ecs(record)["source"]["as"] == {"number": 29518, "organization": {"name": "Bredband2 AB"}}
        record["sourceIPAddress"] = "AWS Internal"       # no source.ip: ignore_missing
        assert to_ecs(record)["source"] == {"address": "AWS Internal"}
        record["sourceIPAddress"] = "198.51.100.9"       # not in the database: no source.geo at all
        assert to_ecs(record)["source"] == {"address": "198.51.100.9", "ip": "198.51.100.9"}


def test_region_is_the_most_specific_subdivision_and_absent_parts_are_left_out():
    record = {"country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
              "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}},
                               {"iso_code": "ISL", "names": {"en": "Islington"}}]}
    assert geo_fields(record) == {"country_name": "United Kingdom", "country_iso_code": "GB",
                                  "region_iso_code": "GB-ISL", "region_name": "Islington"}
    # a Country database's default properties
    assert geo_fields(LONDON, kind="country") == {"continent_name": "Europe", "country_name": "United Kingdom",
                                                  "country_iso_code": "GB"}
    assert geo_fields({"country": {"iso_code": "CA"}, "subdivisions": [{"names": {"en": "Ontario"}}]}) == {
        "country_iso_code": "CA", "region_name": "Ontario"}
    assert geo_fields(None) == {}
