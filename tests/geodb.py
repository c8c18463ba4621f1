"""Small MaxMind DB files for tests, written with mmdb-writer (the test extra) into tmp_path.

Records follow MaxMind's GeoLite2 layouts (https://dev.maxmind.com/geoip/docs/databases/city-and-country/city-binary;
ASN: https://metacpan.org/pod/GeoIP2::Model::ASN): City/Country records hold ``country.iso_code``, ``country.names.en``,
``continent.names.en``, and City also ``city.names.en``, ``subdivisions[]`` (largest first, each
with ``iso_code`` and ``names.en``) and ``location.latitude`` / ``longitude``; ASN records hold
``autonomous_system_number`` and ``autonomous_system_organization``.

``table_db(tmp_path, {"203.0.113.0/24": "DE", ...})`` builds a City database from IP/CIDR -> country
code (names from the engine's MaxMind name table); ``city_db(tmp_path, {cidr: record})`` takes whole
records. The ``geoip_db`` fixture (tests/conftest.py) builds one and sets $AWSSIGNIN_GEOIP.
"""

import ipaddress

from awssignin.geo import CODE_BY_NAME
from harness import geoip

NAME_BY_CODE = dict((code, name) for name, code in CODE_BY_NAME.items())


def _rows(records):
    return [{"network": ipaddress.ip_network(cidr), "record": record} for cidr, record in records.items()]


def write(path, records, database_type="GeoLite2-City"):
    """A database at ``path`` holding ``records`` ({cidr: record dict}); returns the path."""
    return geoip.write_database(_rows(records), path, database_type=database_type,
                                record=lambda row: row["record"])


def country_record(code, city=None, region=None, lat=None, lon=None, continent=None):
    record = {"country": {"iso_code": code, "names": {"en": NAME_BY_CODE.get(code, code)}}}
    if continent:
        record["continent"] = {"names": {"en": continent}}
    if city:
        record["city"] = {"names": {"en": city}}
    if region:
        record["subdivisions"] = [{"names": {"en": region}}]
    if lat is not None and lon is not None:
        record["location"] = {"latitude": lat, "longitude": lon}
    return record


def table_db(tmp_path, countries, name="test-City.mmdb"):
    """A City database from {ip or cidr: ISO country code}."""
    return write(tmp_path / name, dict((cidr, country_record(code)) for cidr, code in countries.items()))


def asn_db(tmp_path, networks, name="test-ASN.mmdb"):
    """An ASN database from {cidr: (number, organization)}."""
    return write(tmp_path / name, dict(
        (cidr, {"autonomous_system_number": number, "autonomous_system_organization": org})
        for cidr, (number, org) in networks.items()), database_type="GeoLite2-ASN")
