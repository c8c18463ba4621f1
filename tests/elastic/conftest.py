"""Shared by the deploy and status tests: an environment without Kibana credentials or proxies."""

import pytest

KIBANA_VARIABLES = ("KIBANA_URL", "KIBANA_API_KEY", "KIBANA_USERNAME", "KIBANA_PASSWORD", "COLUMNS",
                    "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")


@pytest.fixture
def env(monkeypatch):
    """No credentials, URL or proxy from the developer's shell reaches a test."""
    for name in KIBANA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch
