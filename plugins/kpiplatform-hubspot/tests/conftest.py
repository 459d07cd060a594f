"""The HubSpot sandbox in this process, pointed at by the server setting."""

from __future__ import annotations

import pytest
from hubspot_testing import TOKEN
from kpiplatform_hubspot.client import API_BASE_ENV
from kpiplatform_hubspot.sandbox import Sandbox


@pytest.fixture
def sandbox(monkeypatch):
    """An empty sandbox accepting :data:`TOKEN`; the connector is pointed at it by the
    server setting, as a deployment would."""
    with Sandbox(tokens=(TOKEN,)) as running:
        monkeypatch.setenv(API_BASE_ENV, running.url)
        yield running
