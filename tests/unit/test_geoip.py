"""GeoIP for the local harness (harness/geoip.py) and the sign-in view's source_country
(addon/lib/awssignin/geo.py, normalize.py): which addresses count, databases, the fixture table,
and "not evaluated" without a database."""

import json
import sys

import pytest
from click.testing import CliRunner

import geodb
from awssignin.geo import countable
from awssignin.normalize import from_cloudtrail, from_splunk
from harness import geoip
from harness.cli import main
from harness.detections import load_all
from harness.project import Layout
from harness.testing import run_tests, write_junit

GEO_DETECTION = "login_multiple_countries"


@pytest.mark.parametrize("address", [
    "10.1.2.3", "172.16.0.9", "192.168.1.1",        # RFC 1918
    "127.0.0.1", "::1",                             # loopback
    "169.254.10.10", "fe80::1",                     # link-local
    "100.64.0.1", "100.127.255.254",                # CGNAT, RFC 6598
    "fd12:3456::1", "fc00::1",                      # IPv6 unique local
    "::ffff:10.0.0.1",                              # an IPv4-mapped private address
    "0.0.0.0", "224.0.0.1", "240.0.0.1",            # unspecified, multicast, reserved
    "AWS Internal", "signin.amazonaws.com", "redacted", "", None,
])
def test_addresses_that_never_count(address):
    assert not countable(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "100.128.0.1", "2a00:1450:4001::1",
                                     "203.0.113.7", "198.51.100.5", "192.0.2.1", "2001:db8::7"])
def test_public_and_documentation_addresses_count(address):
    assert countable(address)


def _login(ip, **extra):
    record = {"eventID": "e1", "eventTime": "2026-01-15T09:00:00Z", "eventSource": "signin.amazonaws.com",
              "eventName": "ConsoleLogin", "sourceIPAddress": ip,
              "userIdentity": {"type": "IAMUser", "userName": "alice", "accountId": "111122223333"},
              "responseElements": {"ConsoleLogin": "Success"}}
    record.update(extra)
    return record


def test_database_lookup_gives_iso_codes_and_none_for_what_never_counts(tmp_path):
    path = geodb.table_db(tmp_path, {"203.0.113.0/24": "DE", "2001:db8::/48": "SE",
                                     "10.0.0.0/8": "US", "100.64.0.0/10": "US"})
    geo = geoip.open_databases([path])
    try:
        assert geo.location.kind == "city" and geo.asn is None
        assert geo.country("203.0.113.7") == "DE"
        assert geo.country("2001:db8::7") == "SE"
        assert geo.country("198.51.100.5") is None          # not in the database
        assert geo.country("2001:db8:9::1") is None
        # a database that places private ranges still gives them no country
        assert geo.record("10.1.1.1")["country"]["iso_code"] == "US"
        assert geo.country("10.1.1.1") is None and geo.country("100.64.0.1") is None
        assert geo.country("AWS Internal") is None and geo.country(None) is None
    finally:
        geo.close()


def test_raw_records_get_source_country_only_from_the_harness(tmp_path):
    view = from_cloudtrail(_login("203.0.113.7"))
    assert view["source_country"] is None                 # the engine opens no database
    geo = geoip.open_databases([geodb.table_db(tmp_path, {"203.0.113.0/24": "DE"})])
    try:
        assert geoip.enrich_view(view, geo)["source_country"] == "DE"
        assert view["source_country"] is None             # a new dict: the reader's view is left alone
        with geoip.use(None):
            assert geoip.enrich_view(view) is view        # no database in use: nothing to add
        with geoip.use(geo):
            assert geoip.enrich_view(from_cloudtrail(_login("10.0.0.1")))["source_country"] is None
    finally:
        geo.close()


def test_splunk_view_maps_the_iplocation_country_name_to_its_code():
    def view(country, ip="203.0.113.7"):
        fields = {"eventID": "e1", "eventTime": "2026-01-15T09:00:00Z", "sourceIPAddress": ip,
                  "eventName": "ConsoleLogin"}
        if country is not None:
            fields["Country"] = country
        return from_splunk(fields)["source_country"]

    assert view("Germany") == "DE" and view("United States") == "US" and view("Türkiye") == "TR"
    assert view(["Sweden", "Norway"]) == "SE"             # multivalue: the first, as every view field
    # a name the table does not know still counts as one country, as Splunk wrote it
    assert view("Turkey") == "Turkey"
    assert view("") is None and view(None) is None
    assert view("United States", ip="10.0.0.1") is None   # a custom database placing a private range
    assert view("Germany", ip="AWS Internal") is None


def test_detection_needs_geo_reads_the_logic():
    assert geoip.detection_needs_geo({"logic": {"type": "distinct", "distinct": "source_country",
                                                "where": {"field": "outcome", "equals": "success"}}})
    assert geoip.detection_needs_geo({"logic": {"where": {"not": {"field": "source_country", "exists": True}}}})
    assert not geoip.detection_needs_geo({"logic": {"type": "distinct", "distinct": "source_ip",
                                                    "where": {"field": "source_ip", "exists": True}},
                                          "description": "countries"})
    dets = load_all(Layout().detections)
    needing = set(d.id for d in dets if geoip.detection_needs_geo(d))
    assert "root_console_login" not in needing and "concurrent_logins_multiple_ips" not in needing
    if any(d.id == GEO_DETECTION for d in dets):
        assert GEO_DETECTION in needing


def test_fixture_table_errors_name_file_row_and_column(tmp_path):
    table = tmp_path / "geoip.csv"
    header = ",".join(geoip.TABLE_COLUMNS)
    table.write_text("# comment\n%s\n203.0.113.0/24,DE,Germany,,,,\n203.0.113.300/32,DE,,,,,\n" % header)
    with pytest.raises(geoip.GeoIPError, match=r"geoip.csv: row 2: ip_or_cidr"):
        geoip.read_table(table)
    table.write_text("%s\n203.0.113.0/24,Germany,,,,,\n" % header)
    with pytest.raises(geoip.GeoIPError, match=r"row 1: country_iso: not an ISO"):
        geoip.read_table(table)
    table.write_text("ip,country\n1.2.3.4,DE\n")
    with pytest.raises(geoip.GeoIPError, match=r"geoip.csv: the header must be"):
        geoip.read_table(table)
    table.write_text("%s\n203.0.113.0/24,DE,Germany,,,north,\n" % header)
    with pytest.raises(geoip.GeoIPError, match=r"row 1: lat: not a number"):
        geoip.read_table(table)


def test_the_shipped_table_builds_a_database_of_documentation_ranges():
    rows = geoip.read_table(Layout().fixtures / geoip.FIXTURE_TABLE)
    documentation = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
    import ipaddress
    nets = [ipaddress.ip_network(n) for n in documentation]
    assert rows and all(any(r["network"].subnet_of(n) for n in nets if n.version == r["network"].version)
                        for r in rows)
    with geoip.fixture_database(Layout().fixtures) as geo:
        for row in rows:
            assert geo.country(str(row["network"][0])) == row["country_iso"]


def test_unusable_databases_are_errors_naming_the_file(tmp_path):
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"not a database")
    with pytest.raises(geoip.GeoIPError, match="junk.mmdb: not a readable MaxMind DB"):
        geoip.open_databases([junk])
    asn = geodb.asn_db(tmp_path, {"203.0.113.0/24": (64500, "Example")})
    with pytest.raises(geoip.GeoIPError, match="an ASN database alone gives no country"):
        geoip.open_databases([asn])
    one = geodb.table_db(tmp_path, {"203.0.113.0/24": "DE"}, name="a.mmdb")
    two = geodb.table_db(tmp_path, {"203.0.113.0/24": "FR"}, name="b.mmdb")
    with pytest.raises(geoip.GeoIPError, match="b.mmdb: a second City/Country database"):
        geoip.open_databases([one, two])
    with pytest.raises(geoip.GeoIPError, match="missing.mmdb: no such file"):
        with geoip.for_run([str(tmp_path / "missing.mmdb")]):
            pass


def test_for_run_prefers_the_option_then_the_environment_then_the_fixture_table(tmp_path, geoip_db):
    env_db = geoip_db({"203.0.113.0/24": "FR"})            # sets $AWSSIGNIN_GEOIP
    option_db = geodb.table_db(tmp_path, {"203.0.113.0/24": "JP"}, name="option.mmdb")
    before = geoip.current()
    with geoip.for_run([str(option_db)]) as geo:
        assert geoip.current() is geo and geo.country("203.0.113.7") == "JP"
    assert geoip.current() is before
    with geoip.for_run(()) as geo:
        assert geo.country("203.0.113.7") == "FR" and str(env_db) in geo.source
    with geoip.for_run((), Layout().fixtures, environ={}) as geo:
        assert geo.country("203.0.113.7") == "DE"         # detections/fixtures/geoip.csv
    with geoip.for_run((), None, environ={}) as geo:
        assert geo is None and geoip.current() is None


def _geo_detection():
    dets = [d for d in load_all(Layout().detections) if d.id == GEO_DETECTION]
    if not dets:
        pytest.skip("%s is not in this checkout" % GEO_DETECTION)
    return dets


def test_without_a_database_geo_tests_are_not_evaluated_never_no_alert(tmp_path):
    layout = Layout()
    dets = _geo_detection()
    with geoip.use(None):
        outcomes = run_tests(layout, dets, ["elastic"], workers=1)
    assert outcomes and {o.status for o in outcomes} == {geoip.NOT_EVALUATED}
    assert all(o.actual == [] and "no GeoIP database" in o.message for o in outcomes)
    junit = tmp_path / "junit.xml"
    write_junit(outcomes, junit)
    text = junit.read_text()
    assert 'skipped="%d"' % len(outcomes) in text and "<skipped" in text
    with geoip.fixture_database(layout.fixtures) as geo, geoip.use(geo):
        evaluated = run_tests(layout, dets, ["elastic"], workers=1)
    assert {o.status for o in evaluated} == {"pass"}
    assert any(o.actual for o in evaluated)               # the database makes the detection fire


def test_cli_test_says_not_evaluated_without_a_database(monkeypatch):
    _geo_detection()
    monkeypatch.delenv(geoip.ENV, raising=False)
    monkeypatch.setitem(sys.modules, "mmdb_writer", None)  # no writer: no fixture database
    result = CliRunner().invoke(main, ["test", GEO_DETECTION, "--platform", "elastic"])
    assert result.exit_code == 0, result.output
    assert "NOT EVALUATED" in result.output and "not evaluated" in result.output
    assert "0 passed, 0 failed" in result.output
    assert "no alert" not in result.output


def test_cli_test_builds_the_fixture_database_or_reads_the_named_one(tmp_path):
    _geo_detection()
    result = CliRunner().invoke(main, ["test", GEO_DETECTION, "--platform", "elastic"], env={geoip.ENV: ""})
    assert result.exit_code == 0, result.output
    assert "geoip.csv (built for this run)" in result.output and " 0 failed" in result.output
    # a database that puts every documentation range in one country: the two-country tests fail
    one_country = geodb.table_db(tmp_path, {"192.0.2.0/24": "DE", "198.51.100.0/24": "DE",
                                            "203.0.113.0/24": "DE", "2001:db8::/32": "DE"})
    result = CliRunner().invoke(main, ["test", GEO_DETECTION, "--platform", "elastic",
                                       "--geoip", str(one_country)])
    assert result.exit_code == 1 and "FAIL" in result.output
    result = CliRunner().invoke(main, ["test", GEO_DETECTION, "--geoip", str(tmp_path / "nope.mmdb")])
    assert result.exit_code == 2 and "nope.mmdb: no such file" in result.output


def test_replay_names_the_geo_detections_it_did_not_evaluate(tmp_path):
    _geo_detection()
    fixture = Layout().fixtures / "login_multiple_countries" / "two_countries_40_minutes.json"
    args = ["replay", str(fixture), "--detections", GEO_DETECTION, "--platform", "elastic", "--format", "jsonl"]
    result = CliRunner().invoke(main, args, env={geoip.ENV: ""})
    assert result.exit_code == 0, result.output
    assert "not evaluated (no GeoIP database" in result.output and GEO_DETECTION in result.output
    assert not [line for line in result.output.splitlines() if line.startswith("{")]
    with geoip.fixture_database(Layout().fixtures) as geo:
        path = geo.location.path
        result = CliRunner().invoke(main, args + ["--geoip", path])
    alerts = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert result.exit_code == 0 and alerts and {a["detection"] for a in alerts} == {GEO_DETECTION}
    assert "not evaluated" not in result.output and "GeoIP: %s" % path in result.output


def test_live_platforms_do_not_evaluate_the_geo_detections():
    dets = _geo_detection()

    class Live(object):
        calls = 0

        def run(self, detection, records, params=None):
            Live.calls += 1
            return []

    outcomes = run_tests(Layout(), dets, ["elastic"], runners={"elastic": Live()})
    assert outcomes and {o.status for o in outcomes} == {geoip.NOT_EVALUATED} and Live.calls == 0
    assert all("its own GeoIP database" in o.message for o in outcomes)


def test_the_equivalence_check_compares_the_country_the_address_gives(geoip_in_use):
    from harness import equivalence, generate
    from harness.detections import DetectionFile
    det = _geo_detection()[0]
    base = equivalence.fixture_records(Layout().fixtures)
    # the shipped rule agrees with the logic, record by record, over addresses in and out of the database
    assert not equivalence.check(det, base)
    query = det.data["elastic"]["query"]
    dropped = query.replace(" and source.geo.country_iso_code: *", "")
    assert dropped != query
    data = dict(det.authored, elastic=dict(det.authored["elastic"], override={
        "query": dropped, "reason": "a deliberately country-blind query"}))
    problems = equivalence.check(generate.resolve(DetectionFile(det.path, data, det.lines)), base)
    assert problems and {p.platform for p in problems} == {"elastic"}
    addresses = set(json.loads(str(p).split("record: ", 1)[1]).get("sourceIPAddress") for p in problems)
    assert addresses and not any(geoip.current().country(a) for a in addresses)


def test_an_ipv4_only_country_database_answers_ipv6_with_no_country(tmp_path):
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet
    writer = MMDBWriter(ip_version=4, database_type="GeoLite2-Country")
    writer.insert_network(IPSet(["203.0.113.0/24"]), geodb.country_record("DE"))
    writer.to_db_file(str(tmp_path / "v4.mmdb"))
    geo = geoip.open_databases([tmp_path / "v4.mmdb"])
    try:
        assert geo.location.kind == "country"
        assert geo.country("203.0.113.7") == "DE" and geo.country("2001:db8::7") is None
    finally:
        geo.close()


def test_a_broken_fixture_table_is_an_error_naming_its_row(tmp_path):
    import shutil
    root = tmp_path / "project"
    shutil.copytree(str(Layout().root / "detections"), str(root / "detections"))
    table = root / "detections" / "fixtures" / geoip.FIXTURE_TABLE
    table.write_text(table.read_text(encoding="utf-8") + "203.0.113.0/33,DE,Germany,,,,,,\n", encoding="utf-8")
    with pytest.raises(geoip.GeoIPError, match=r"geoip.csv: row \d+: ip_or_cidr"):
        with geoip.for_run((), root / "detections" / "fixtures", environ={}):
            pass
