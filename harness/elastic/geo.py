"""The AWS integration's GeoIP step: ``source.geo.*`` and ``source.as.*`` of a CloudTrail document.

The CloudTrail ingest pipeline (elastic/integrations
``packages/aws/data_stream/cloudtrail/elasticsearch/ingest_pipeline/default.yml`` at
3ab428122032078a49f7d46b08c4586907546c2c, right after ``convert_source_address_to_source_ip``) runs:

- ``geoip`` [geoip_source_ip_to_source_geo_253d8f4f]: ``field: source.ip``, ``target_field:
  source.geo``, ``ignore_missing: true``, the default database (GeoLite2-City) and the default
  properties;
- ``geoip`` [geoip_source_ip_to_source_as_28d69883]: ``database_file: GeoLite2-ASN.mmdb``,
  ``properties: [asn, organization_name]``, ``target_field: source.as``; then ``source.as.asn`` is
  renamed to ``source.as.number`` and ``source.as.organization_name`` to
  ``source.as.organization.name``.

Elasticsearch's geoip processor (https://www.elastic.co/docs/reference/enrich-processor/geoip-processor;
elastic/elasticsearch modules/ingest-geoip GeoIpProcessor.Factory DEFAULT_CITY_PROPERTIES and
MaxmindIpDataLookups.City): the default properties of a City database are continent_name,
country_name, country_iso_code, region_iso_code, region_name, city_name and location; of a Country
database continent_name, country_name and country_iso_code. Names are the English ones; the region
is the *most specific* subdivision (the last of ``subdivisions``), ``region_iso_code`` is
``<country iso_code>-<subdivision iso_code>`` when both exist, ``location`` is ``{lat, lon}`` when
both exist; a property without a value is left out, and an address the database does not hold
adds nothing (no ``source.geo`` object). The pipeline's own test documents show the result
(tests/data/elastic_pipeline, 89.160.20.156 and 81.2.69.144 in MaxMind's test databases;
tests/elastic/test_geo_enrichment.py compares them).
"""

from .. import geoip


def enrich(doc, geo=None):
    """Add ``source.geo`` / ``source.as`` to an ECS document in place, from ``geo`` (a
    harness.geoip.Geo; None: the database in use, and nothing when there is none)."""
    geo = geo if geo is not None else geoip.current()
    if geo is None:
        return doc
    source = doc.get("source")
    address = source.get("ip") if isinstance(source, dict) else None
    if not isinstance(address, str):
        return doc                      # ignore_missing: true
    location = geo_fields(geo.record(address), geo.location.kind if geo.location is not None else "city")
    if location:
        source["geo"] = location
    asn = as_fields(geo.asn_record(address))
    if asn:
        source["as"] = asn
    return doc


def _name(node):
    if isinstance(node, dict):
        names = node.get("names")
        if isinstance(names, dict) and isinstance(names.get("en"), str):
            return names["en"]
    return None


def geo_fields(record, kind="city"):
    """The geoip processor's default properties for one database record (``kind``: "city" or
    "country"), as the dict it writes under the target field."""
    if not isinstance(record, dict):
        return {}
    country = record.get("country") if isinstance(record.get("country"), dict) else {}
    out = {}
    if _name(record.get("continent")) is not None:
        out["continent_name"] = _name(record["continent"])
    if _name(country) is not None:
        out["country_name"] = _name(country)
    if isinstance(country.get("iso_code"), str):
        out["country_iso_code"] = country["iso_code"]
    if kind == "country":
        return out
    subdivisions = record.get("subdivisions")
    sub = subdivisions[-1] if isinstance(subdivisions, list) and subdivisions and isinstance(subdivisions[-1], dict) else {}
    if isinstance(country.get("iso_code"), str) and isinstance(sub.get("iso_code"), str):
        out["region_iso_code"] = "%s-%s" % (country["iso_code"], sub["iso_code"])
    if _name(sub) is not None:
        out["region_name"] = _name(sub)
    if _name(record.get("city")) is not None:
        out["city_name"] = _name(record["city"])
    loc = record.get("location") if isinstance(record.get("location"), dict) else {}
    if loc.get("latitude") is not None and loc.get("longitude") is not None:
        out["location"] = {"lat": loc["latitude"], "lon": loc["longitude"]}
    return out


def as_fields(record):
    """``source.as`` after the pipeline's renames, from a GeoLite2-ASN record."""
    if not isinstance(record, dict):
        return {}
    out = {}
    if record.get("autonomous_system_number") is not None:
        out["number"] = record["autonomous_system_number"]
    if isinstance(record.get("autonomous_system_organization"), str):
        out["organization"] = {"name": record["autonomous_system_organization"]}
    return out
