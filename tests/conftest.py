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


@pytest.fixture(scope="session", autouse=True)
def fixture_geoip():
    """The GeoIP database ``awssignin test`` uses by default (built from detections/fixtures/geoip.csv,
    harness/geoip.py), in use for every test: tests that run the detections' fixtures see the
    countries ``awssignin test`` sees. A test about having no database says ``geoip.use(None)``."""
    from harness import geoip
    with geoip.fixture_database(ROOT / "detections" / "fixtures") as geo, geoip.use(geo):
        yield geo


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
