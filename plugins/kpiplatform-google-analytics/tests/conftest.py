"""Fixtures: the GA4 sandbox over the tests' property, a service account it knows, and a
connection of ``acme`` to it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from ga4_testing import create, seed
from kpiplatform_google_analytics.sandbox import Sandbox, new_service_account


@pytest.fixture(scope="session")
def service_account() -> tuple[dict, str]:
    """A key file's content and its public key (one RSA key for the session)."""
    return new_service_account()


@pytest.fixture
def key_file(service_account) -> str:
    return json.dumps(service_account[0])


@pytest.fixture
def sandbox(service_account, monkeypatch) -> Iterator[Sandbox]:
    with Sandbox(seed()) as running:
        info, public_key = service_account
        running.register_account(info["client_email"], public_key)
        monkeypatch.setenv("KPI_GA4_API_BASE", running.url)
        yield running


@pytest.fixture
def connected(acme, sandbox, key_file) -> int:
    response = create(acme, key_file)
    assert response.status_code == 201, response.content
    return response.json()["id"]
