"""GeoIP for the local harness: the MaxMind database that stands in for each platform's own.

The contract the geo detections (``login_multiple_countries``, ``login_new_country_for_user``) and
the data paths share:

- The sign-in view (``addon/lib/awssignin/normalize.py``) has ``source_country``: an ISO 3166-1
  alpha-2 code, or None.
  * Splunk: the saved search runs ``iplocation sourceIPAddress`` (no ``prefix=``), which adds the
    country's *name* as ``Country`` from the database Splunk ships; the engine maps the name
    back to its code (``awssignin.geo.CODE_BY_NAME``, MaxMind's English names). A name the table
    does not know stays as written: it still counts as one distinct country; only the value an
    alert shows can then differ from Elastic's (declared in awssignin/geo.py). Distinct counts are
    equal either way.
  * Elastic: the AWS integration's ingest pipeline writes ``source.geo.country_iso_code`` with
    Elasticsearch's geoip processor (reproduced by ``harness/elastic/geo.py``); the Kibana rule
    reads that field.
  * Raw CloudTrail records evaluated locally (``awssignin test``, ``replay``, the equivalence
    check): the harness looks ``sourceIPAddress`` up in the database the user names and sets
    ``source_country`` on the view (``enrich_view``) before the engine sees it. The engine itself
    never opens a database (it is standard library only).
- Addresses that never count, whatever a database says: no country in the database, private and
  reserved ranges (RFC 1918, loopback, link-local, CGNAT 100.64.0.0/10, IPv6 ULA), ``AWS Internal``
  and other non-IP values of ``sourceIPAddress`` (service names such as ``signin.amazonaws.com``):
  ``source_country`` is None (``awssignin.geo.countable``).
- Which database: ``--geoip FILE`` on ``awssignin test`` / ``replay`` (repeatable: a City or Country
  database, and optionally an ASN database for ``source.as.*``), else ``$AWSSIGNIN_GEOIP`` (paths
  separated by ``os.pathsep``). ``awssignin test`` without either builds a temporary database from
  the text table ``detections/fixtures/geoip.csv`` when ``mmdb-writer`` is installed (the test extra).
  Nothing is downloaded and no database file is committed.
- Without a database, a detection whose logic reads ``source_country`` (``detection_needs_geo``) is
  reported as ``NOT_EVALUATED`` in test outcomes and named in the replay summary, never as "no alerts".

Database files are read with the ``maxminddb`` library (Apache-2.0). Record layout (GeoLite2 /
GeoIP2 City and Country: ``country.iso_code``, ``country.names.en``, ``continent.names.en``,
``city.names.en``, ``subdivisions[]`` from largest to smallest with ``iso_code`` and ``names``,
``location.latitude`` / ``longitude``; ASN: ``autonomous_system_number``,
``autonomous_system_organization``): MaxMind's database documentation,
https://dev.maxmind.com/geoip/docs/databases/city-and-country/city-binary, and for ASN MaxMind's
GeoLite2 ASN model (GeoIP2-perl GeoIP2::Model::ASN, https://metacpan.org/pod/GeoIP2::Model::ASN).
"""

import contextlib
import csv
import ipaddress
import os
import tempfile
import threading
from pathlib import Path

from awssignin.geo import checked_code, countable

ENV = "AWSSIGNIN_GEOIP"
NOT_EVALUATED = "not evaluated"
# the view field the geo detections read
FIELD = "source_country"
# the text table ``awssignin test`` builds its database from (under the fixtures directory)
FIXTURE_TABLE = "geoip.csv"
TABLE_COLUMNS = ("ip_or_cidr", "country_iso", "country_name", "city", "region", "lat", "lon")
# optional columns after those: what Elasticsearch's geoip processor also writes (region_iso_code
# is <country>-<subdivision iso_code>, continent_name the continent's English name)
OPTIONAL_COLUMNS = ("region_iso", "continent")


class GeoIPError(ValueError):
    """A database that cannot be used; the message names the file."""


class Database(object):
    """One open MaxMind DB file. ``kind``: "city", "country" or "asn" (from its metadata's
    database_type, e.g. GeoLite2-City, GeoIP2-Country, GeoLite2-ASN)."""

    def __init__(self, path):
        try:
            import maxminddb
        except ImportError:
            raise GeoIPError("%s: reading a GeoIP database needs the maxminddb package "
                             "(pip install 'maxminddb>=2,<4')" % path)
        self.path = str(path)
        try:
            self.reader = maxminddb.open_database(self.path)
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as err:
            raise GeoIPError("%s: not a readable MaxMind DB file (%s)" % (self.path, err))
        self.database_type = str(self.reader.metadata().database_type)
        low = self.database_type.lower()
        self.kind = "asn" if low.endswith("-asn") or low == "asn" else (
            "country" if low.endswith("-country") or low == "country" else "city")
        self._lock = threading.Lock()

    def record(self, address):
        """The database's record for an IP address text, or None (not an IP, not in the database).
        Thread-safe (the test runner's threads share one database)."""
        if not isinstance(address, str):
            return None
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        try:
            with self._lock:
                found = self.reader.get(ip)
        except ValueError:        # an IPv6 address in an IPv4-only database
            return None
        return found if isinstance(found, dict) else None

    def close(self):
        self.reader.close()


class Geo(object):
    """The databases of one run: a location database (City or Country) and optionally an ASN one."""

    def __init__(self, location=None, asn=None, source=""):
        self.location = location
        self.asn = asn
        self.source = source      # what the summary says the data came from

    def record(self, address):
        return self.location.record(address) if self.location is not None else None

    def asn_record(self, address):
        return self.asn.record(address) if self.asn is not None else None

    def country(self, address):
        """``source_country`` of an address: the ISO code, or None (see the module docstring)."""
        if not countable(address):
            return None
        found = self.record(address)
        country = found.get("country") if found else None
        return checked_code(country.get("iso_code") if isinstance(country, dict) else None, address)

    def close(self):
        for db in (self.location, self.asn):
            if db is not None:
                db.close()


def open_databases(paths, source=None):
    """A Geo from database files: at most one location (City/Country) and one ASN database."""
    location = asn = None
    opened = []
    try:
        for path in paths:
            db = Database(path)
            opened.append(db)
            if db.kind == "asn":
                if asn is not None:
                    raise GeoIPError("%s: a second ASN database (already %s)" % (path, asn.path))
                asn = db
            else:
                if location is not None:
                    raise GeoIPError("%s: a second City/Country database (already %s)" % (path, location.path))
                location = db
    except GeoIPError:
        for db in opened:
            db.close()
        raise
    if location is None and asn is not None:
        asn.close()
        raise GeoIPError("%s: an ASN database alone gives no country; name a City or Country database too"
                         % asn.path)
    return Geo(location, asn, source or ", ".join(str(p) for p in paths))


def paths_from_env(environ=None):
    text = (environ if environ is not None else os.environ).get(ENV, "")
    return [p for p in text.split(os.pathsep) if p.strip()]


# -- the database in use -----------------------------------------------------------------------
# One per process: the CLI opens it before a run and the platform simulations read it (the Splunk
# runner's iplocation stage, the ECS mapping's geoip step, replay's sign-in views).
_current = None


def current():
    """The Geo in use, or None."""
    return _current


@contextlib.contextmanager
def use(geo):
    """Make ``geo`` (a Geo or None) the database in use for the block."""
    global _current
    before = _current
    _current = geo
    try:
        yield geo
    finally:
        _current = before


def enrich_view(view, geo=None):
    """The sign-in view of a raw record with ``source_country`` looked up (a new dict). ``geo``
    None: the database in use; without one the view is returned as it is (no country)."""
    geo = geo if geo is not None else _current
    if geo is None:
        return view
    out = dict(view)
    out[FIELD] = geo.country(view.get("source_ip"))
    return out


# -- which detections need it ------------------------------------------------------------------

def detection_needs_geo(detection):
    """True when the detection's logic reads ``source_country`` (a condition, group, distinct or
    baseline field). ``detection``: a harness Detection (``.data``) or its data mapping."""
    data = getattr(detection, "data", detection)
    return _mentions(data.get("logic"), FIELD)


def _mentions(node, name):
    if isinstance(node, dict):
        return any(_mentions(v, name) for v in node.values())
    if isinstance(node, list):
        return any(_mentions(v, name) for v in node)
    return node == name


def not_evaluated_message(detection_id):
    return ("%s: not evaluated: its logic reads %s and no GeoIP database was given (--geoip FILE or $%s)"
            % (detection_id, FIELD, ENV))


# -- the fixture table -------------------------------------------------------------------------

def read_table(path):
    """Rows of a geoip.csv table (``TABLE_COLUMNS``; lines starting with # are comments). Raises
    GeoIPError naming the file, line and column."""
    rows = []
    try:
        with open(str(path), "r", encoding="utf-8", newline="") as handle:
            lines = [line for line in handle if line.strip() and not line.lstrip().startswith("#")]
    except OSError as err:
        raise GeoIPError("%s: %s" % (path, err))
    reader = csv.DictReader(lines)
    header = tuple(reader.fieldnames or ())
    if header[:len(TABLE_COLUMNS)] != TABLE_COLUMNS or not set(header[len(TABLE_COLUMNS):]) <= set(OPTIONAL_COLUMNS):
        raise GeoIPError("%s: the header must be %s (then optionally %s), not %s" % (
            path, ",".join(TABLE_COLUMNS), ",".join(OPTIONAL_COLUMNS), ",".join(header)))
    for n, row in enumerate(reader, 2):
        where = "%s: row %d" % (path, n - 1)
        try:
            network = ipaddress.ip_network(row["ip_or_cidr"].strip(), strict=True)
        except ValueError as err:
            raise GeoIPError("%s: ip_or_cidr: %s" % (where, err))
        for column in ("lat", "lon"):
            value = (row.get(column) or "").strip()
            if value:
                try:
                    float(value)
                except ValueError:
                    raise GeoIPError("%s: %s: not a number: %r" % (where, column, value))
        code = (row.get("country_iso") or "").strip()
        if code and (len(code) != 2 or not code.isalpha() or not code.isupper()):
            raise GeoIPError("%s: country_iso: not an ISO 3166-1 alpha-2 code: %r" % (where, code))
        if None in row:
            raise GeoIPError("%s: more values than columns" % where)
        rows.append(dict((k, (v or "").strip()) for k, v in row.items()))
        rows[-1]["network"] = network
    return rows


def city_record(row):
    """A GeoLite2-City shaped record for one table row (only the keys with a value)."""
    record = {}
    if row.get("country_iso"):
        record["country"] = {"iso_code": row["country_iso"], "names": {"en": row.get("country_name") or ""}}
        if not row.get("country_name"):
            del record["country"]["names"]
    if row.get("continent"):
        record["continent"] = {"names": {"en": row["continent"]}}
    if row.get("city"):
        record["city"] = {"names": {"en": row["city"]}}
    if row.get("region"):
        sub = {"names": {"en": row["region"]}}
        if row.get("region_iso"):
            sub["iso_code"] = row["region_iso"]
        record["subdivisions"] = [sub]
    if row.get("lat") and row.get("lon"):
        record["location"] = {"latitude": float(row["lat"]), "longitude": float(row["lon"])}
    return record


def write_database(rows, path, database_type="GeoLite2-City", record=city_record):
    """Write a MaxMind DB file of ``rows`` (each with ``network``) with the mmdb-writer library
    (the test extra). Raises GeoIPError when the library is missing."""
    try:
        from mmdb_writer import MMDBWriter
        from netaddr import IPSet
    except ImportError:
        raise GeoIPError("building a GeoIP database needs the mmdb-writer package (the test extra)")
    # ip_version 6 with IPv4 in its ::/96 subtree, the layout MaxMind's own databases use
    writer = MMDBWriter(ip_version=6, database_type=database_type, languages=["en"],
                        description="awssignin test database", ipv4_compatible=True)
    for row in rows:
        writer.insert_network(IPSet([str(row["network"])]), record(row))
    writer.to_db_file(str(path))
    return path


@contextlib.contextmanager
def fixture_database(fixtures_dir):
    """A Geo built from ``<fixtures>/geoip.csv`` in a temporary directory (removed afterwards), or
    None when there is no table or mmdb-writer is not installed (the geo tests are then not
    evaluated)."""
    table = Path(fixtures_dir) / FIXTURE_TABLE
    if not table.is_file():
        yield None
        return
    try:
        import mmdb_writer  # noqa: F401
    except ImportError:
        yield None
        return
    rows = read_table(table)
    with tempfile.TemporaryDirectory(prefix="awssignin-geoip-") as tmp:
        path = write_database(rows, Path(tmp) / "test-City.mmdb")
        geo = open_databases([path], source="%s (built for this run)" % table)
        try:
            yield geo
        finally:
            geo.close()


@contextlib.contextmanager
def for_run(paths=(), fixtures_dir=None, environ=None):
    """The Geo of one CLI run, in use for the block: ``paths`` (--geoip), else $AWSSIGNIN_GEOIP,
    else (``fixtures_dir`` given: ``awssignin test``) the fixture table's temporary database, else
    None. Raises GeoIPError naming the file that cannot be used."""
    paths = list(paths) or paths_from_env(environ)
    if paths:
        for path in paths:
            if not Path(path).is_file():
                raise GeoIPError("%s: no such file" % path)
        geo = open_databases(paths)
        try:
            with use(geo):
                yield geo
        finally:
            geo.close()
        return
    if fixtures_dir is None:
        with use(None):
            yield None
        return
    with fixture_database(fixtures_dir) as geo, use(geo):
        yield geo


CLI_HELP = ("A MaxMind DB file (GeoLite2/GeoIP2 City or Country; repeat for an ASN database) that the local "
            "platforms read in place of their own GeoIP data (default: $%s, paths separated by '%s')."
            % (ENV, os.pathsep))
