"""A run computes independent KPIs on several database connections at once, and stores
exactly what one connection stores. Needs committed data (other connections cannot see a
test's transaction): the test writes into the standing company ``globex`` and empties it
afterwards."""

from __future__ import annotations

import datetime as dt

import pytest
from django_tenants.utils import schema_context

from kpiplatform.celery import app
from kpiplatform.kpis import engine
from kpiplatform.kpis.models import StoredKPIValue
from kpiplatform.testing.data import empty_company_tables, load_records
from kpiplatform.testing.kpis import WORKED_EXAMPLE_SEGMENTS, configure_company, stored_values


def every_stored_value() -> dict:
    return {
        (v.kpi, v.grain, v.period_start, v.segment_kind, v.segment): (v.value, v.reason)
        for v in StoredKPIValue.objects.all()
    }


@pytest.mark.slow
def test_independent_kpis_on_two_connections_store_what_one_connection_stores(
    standing_companies, django_db_blocker, settings
):
    globex = standing_companies["globex"]
    eager = app.conf.task_always_eager
    # Writes commit here: their recompute runs in this process instead of a broker's queue.
    app.conf.task_always_eager = True
    try:
        with django_db_blocker.unblock(), schema_context(globex.schema_name):
            configure_company("EUR", "Europe/Paris", "0.8")
            load_records(
                "customers",
                [{"external_id": c, "channel": "ads", "country": "FR"} for c in "ABCDE"],
            )
            load_records("mrr_segments", WORKED_EXAMPLE_SEGMENTS)
            load_records(
                "payments",
                [
                    {
                        "customer_ref": c,
                        "occurred_at": dt.datetime(2025, m, 5, 9, tzinfo=dt.UTC),
                        "amount_minor": 10000,
                        "currency": "EUR",
                    }
                    for c in "ABCD"
                    for m in (1, 2, 3)
                ],
            )
            load_records(
                "spend",
                [{"spent_on": dt.date(2025, 1, 5), "amount_minor": 20000, "currency": "EUR"}],
            )
            settings.KPI_COMPUTE_CONNECTIONS = 2
            parallel = engine.recompute_everything()
            on_two = every_stored_value()
            march_mrr = stored_values("mrr")[dt.date(2025, 3, 1)].value
            settings.KPI_COMPUTE_CONNECTIONS = 1
            sequential = engine.recompute_everything()
            on_one = every_stored_value()
            empty_company_tables()
    finally:
        app.conf.task_always_eager = eager
    assert parallel.connections == 2
    assert sequential.connections == 1
    assert not parallel.failed and sorted(parallel.computed) == sorted(sequential.computed)
    assert parallel.values_stored == sequential.values_stored == len(on_two)
    assert on_two == on_one
    # The worked example's March MRR: A 150 + C 30 + D 80 + E 60.
    assert march_mrr == 320


@pytest.mark.parametrize("count", [1, 2, 3])
def test_kpis_built_from_others_stay_on_their_connection(count):
    from kpiplatform.kpis.registry import registered_kpis

    kpis = registered_kpis()
    ordered = engine.ordered_by_dependencies(kpis, kpis)
    groups = engine._independent_groups(ordered, count)
    assert len(groups) == min(count, len(groups)) and sum(map(len, groups)) == len(ordered)
    where = {kpi.key: n for n, group in enumerate(groups) for kpi in group}
    for n, group in enumerate(groups):
        for position, kpi in enumerate(group):
            for dependency in kpi.depends_on:
                if dependency in where:
                    # Same connection, computed before.
                    assert where[dependency] == n
                    assert dependency in [k.key for k in group[:position]]
