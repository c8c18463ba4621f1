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
