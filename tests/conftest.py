"""Shared pytest setup: the engine on sys.path, the project layout fixture."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# the engine lives in the Splunk app (addon/lib); make it importable without an install
if str(ROOT / "addon" / "lib") not in sys.path:
    sys.path.insert(0, str(ROOT / "addon" / "lib"))

@pytest.fixture
def layout():
    from harness.project import Layout
    return Layout(ROOT)


@pytest.fixture(scope="session")
def fixture_geoip():
    """The GeoIP database ``awssignin test`` uses by default (built once from
    detections/fixtures/geoip.csv, harness/geoip.py)."""
    from harness import geoip
    with geoip.fixture_database(ROOT / "detections" / "fixtures") as geo:
        yield geo


@pytest.fixture
def geoip_in_use(fixture_geoip):
    """``fixture_geoip`` in use for the test, as ``awssignin test`` uses it: modules that run the
    detections' fixtures mark themselves ``pytestmark = pytest.mark.usefixtures("geoip_in_use")``."""
    from harness import geoip
    with geoip.use(fixture_geoip):
        yield fixture_geoip


@pytest.fixture
def geoip_db(tmp_path, monkeypatch):
    """``make({ip or cidr: country code})`` -> the path of a small GeoLite2-City shaped database in
    tmp_path, also set as $AWSSIGNIN_GEOIP (tests/geodb.py; needs mmdb-writer, the test extra)."""
    import geodb

    def make(countries):
        path = geodb.table_db(tmp_path, countries)
        monkeypatch.setenv("AWSSIGNIN_GEOIP", str(path))
        return path
    return make
