"""The SPL evaluator's ``iplocation`` (harness/splunk/spl.py) and how the local Splunk paths run it.

Splunk's Search Reference (iplocation, 9.4): the fields City, Country, Region, lat, lon (allfields:
also Continent, MetroCode, Timezone), prefixed by ``prefix=``; empty values when the database lacks
a part; no fields at all for an address without a location.
"""

import pytest

import geodb
from awssignin.normalize import from_splunk
from harness import geoip
from harness.splunk.inprocess import _with_country
from harness.splunk.runner import RunnerError, SplunkLocalRunner
from harness.splunk.spl import SplSyntaxError, SplUnsupported, compile_iplocation

BERLIN = geodb.country_record("DE", city="Berlin", region="Land Berlin", lat=52.52, lon=13.405,
                              continent="Europe")


@pytest.fixture
def geo(tmp_path):
    path = geodb.write(tmp_path / "city.mmdb", {"203.0.113.0/25": BERLIN,
                                               "198.51.100.64/26": geodb.country_record("CA"),
                                               "2001:db8::/48": geodb.country_record("SE", city="Linköping")})
    opened = geoip.open_databases([path])
    with geoip.use(opened):
        yield opened
    opened.close()


def run(args, view):
    assert compile_iplocation(args)(view) is True       # iplocation keeps every event
    return view


def test_adds_city_country_region_lat_lon(geo):
    view = run("sourceIPAddress", {"sourceIPAddress": "203.0.113.7"})
    assert view == {"sourceIPAddress": "203.0.113.7", "City": "Berlin", "Country": "Germany",
                    "Region": "Land Berlin", "lat": "52.52", "lon": "13.405"}
    # IPv6, and empty values for what the database does not hold
    assert run("sourceIPAddress", {"sourceIPAddress": "2001:db8::7"})["City"] == "Linköping"
    canada = run("sourceIPAddress", {"sourceIPAddress": "198.51.100.70"})
    assert canada["Country"] == "Canada" and canada["City"] == canada["Region"] == canada["lat"] == ""


@pytest.mark.parametrize("address", ["198.51.100.200", "10.0.0.1", "AWS Internal", "signin.amazonaws.com", ""])
def test_adds_nothing_for_an_address_without_a_location(geo, address):
    assert run("sourceIPAddress", {"sourceIPAddress": address}) == {"sourceIPAddress": address}
    assert run("sourceIPAddress", {}) == {}


def test_prefix_allfields_and_multivalue(geo):
    view = run("prefix=src_ allfields=true sourceIPAddress", {"sourceIPAddress": ["203.0.113.7", "198.51.100.70"]})
    assert view["src_Country"] == "Germany" and view["src_Continent"] == "Europe"
    assert view["src_Timezone"] == "" and "Country" not in view
    assert set(view) == {"sourceIPAddress"} | set("src_" + f for f in (
        "City", "Country", "Region", "lat", "lon", "Continent", "MetroCode", "Timezone"))


def test_without_a_database_adds_nothing():
    with geoip.use(None):
        assert run("sourceIPAddress", {"sourceIPAddress": "203.0.113.7"}) == {"sourceIPAddress": "203.0.113.7"}


@pytest.mark.parametrize("args, error", [
    ("", SplSyntaxError), ("a b", SplSyntaxError), ("prefix= a", SplSyntaxError),
    ("allfields=perhaps a", SplSyntaxError), ("max_matches=2 a", SplUnsupported),
])
def test_bad_arguments_are_errors(args, error):
    with pytest.raises(error):
        compile_iplocation(args)


def test_the_command_reads_the_country_code_of_the_iplocation_name(geo):
    fields = run("sourceIPAddress", {"sourceIPAddress": "203.0.113.7", "eventID": "e1",
                                     "eventTime": "2026-01-15T09:00:00Z"})
    assert from_splunk(fields)["source_country"] == "DE"
    # replay's in-process path gives the engine the same value
    view = {"source_ip": "203.0.113.7", "source_country": None, "event_id": "e1"}
    assert _with_country({}, view, fields)["source_country"] == "DE"
    assert _with_country({}, view, {"sourceIPAddress": "203.0.113.7"}) is view


class _Det(object):
    id = "geo_probe"


def test_the_local_runner_runs_iplocation_only_before_the_command(layout, monkeypatch):
    runner = SplunkLocalRunner(layout)
    monkeypatch.setattr(runner, "search_text", lambda det: (
        'eventSource="signin.amazonaws.com" | iplocation sourceIPAddress | awssignin detection=geo_probe'))
    _, base, _, _ = runner.plan(_Det())
    view = {"eventSource": "signin.amazonaws.com", "sourceIPAddress": "203.0.113.7"}
    with geoip.fixture_database(layout.fixtures) as geo, geoip.use(geo):
        assert all(p(view) for p in base)
    assert view["Country"] == "Germany"                # detections/fixtures/geoip.csv
    monkeypatch.setattr(runner, "search_text", lambda det: (
        'eventSource="signin.amazonaws.com" | awssignin detection=geo_probe | iplocation sourceIPAddress'))
    with pytest.raises(RunnerError, match="not `iplocation`"):
        runner.plan(_Det())
