"""Fixtures of the Stripe connector's tests: a generated company served by a fresh sandbox
per test, and a connection to it through the platform's API."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from kpiplatform_stripe.sandbox import Sandbox
from kpiplatform_stripe.sandbox.generate import generate
from stripe_helpers import API_KEY


@pytest.fixture(scope="session")
def seed() -> dict:
    """A small company: 60 customers over 14 months, ending today."""
    return generate(seed_number=11, customers=60, months=14, end=dt.datetime.now(dt.UTC).date())


@pytest.fixture(scope="session")
def catalogue() -> dict:
    """Plans and coupons only, for hand-built scenarios."""
    return generate(seed_number=1, customers=0, months=0, end=dt.date(2025, 1, 1))


@pytest.fixture
def sandbox(seed, monkeypatch):
    with Sandbox(copy.deepcopy(seed), keys=(API_KEY,)) as running:
        monkeypatch.setenv("KPI_STRIPE_API_BASE", running.url)
        yield running


@pytest.fixture
def empty_sandbox(catalogue, monkeypatch):
    with Sandbox(copy.deepcopy(catalogue), keys=(API_KEY,)) as running:
        monkeypatch.setenv("KPI_STRIPE_API_BASE", running.url)
        yield running
