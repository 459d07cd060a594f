"""Fixtures for the KPI library tests: canonical rows in ``acme`` and KPI values by period."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable

import pytest
from django.utils import timezone

from kpiplatform.facts import refresh as facts_refresh
from kpiplatform.sdk import KPI, Grain, KPIContext, KPIResult, KPIValue, Period


class Computed:
    """The values one ``KPI.compute`` returned, addressed by period label and segment."""

    def __init__(self, values: list[KPIValue]):
        self.values = values

    def total(self, label: str) -> KPIResult:
        return self._one(label, "", "")

    def segment(self, label: str, kind: str, segment: str) -> KPIResult:
        return self._one(label, kind, segment)

    def segments(self, label: str, kind: str) -> dict[str, KPIResult]:
        return {
            v.segment: v.result
            for v in self.values
            if v.period.label == label and v.segment_kind == kind
        }

    def _one(self, label: str, kind: str, segment: str) -> KPIResult:
        (result,) = [
            v.result
            for v in self.values
            if v.period.label == label and v.segment_kind == kind and v.segment == segment
        ]
        return result


@pytest.fixture
def canonical(acme) -> Callable:
    """``canonical(Model, **fields)`` inserts one canonical row into acme's schema.

    ``source``, ``external_id`` and ``updated_at`` get defaults, so a row states only what
    the example is about.
    """
    numbers = itertools.count(1)

    def add(model, **fields):
        fields.setdefault("source", "import")
        fields.setdefault("external_id", f"{model.dataset}-{next(numbers)}")
        fields.setdefault("updated_at", timezone.now())
        with acme.activate():
            return model.objects.create(**fields)

    return add


@pytest.fixture
def compute(acme) -> Callable:
    """``compute(kpi, context, grain, first_day, last_day)`` runs the KPI in acme's schema,
    after building the facts the platform derives from the rows (ledger, payment days,
    customer facts), as the engine does before computing."""

    def run(
        kpi: KPI, context: KPIContext, grain: Grain, first_day: dt.date, last_day: dt.date
    ) -> Computed:
        with acme.activate():
            facts_refresh.rebuild_all(context)
            return Computed(list(kpi.compute(context, Period.between(grain, first_day, last_day))))

    return run
