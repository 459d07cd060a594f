"""The KPI engine: ledger, currency conversion, recompute after changes, failure isolation."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from kpiplatform.data.models import MrrSegment
from kpiplatform.data.writer import BulkWriter
from kpiplatform.facts import ledger
from kpiplatform.facts.models import DataWarning, LedgerDirtyCustomer, MrrMovement
from kpiplatform.kpis import engine
from kpiplatform.kpis.models import KPIComputation, PendingChange, StoredKPIValue
from kpiplatform.kpis.registry import registered_kpis
from kpiplatform.plugins.models import PluginError
from kpiplatform.sdk import KPI, Grain, KPIResult, KPIValue
from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import (
    WORKED_EXAMPLE_SEGMENTS,
    configure_company,
    mrr_segment,
    recompute_all,
    recompute_pending,
    stored_values,
)
from kpiplatform.testing.shared import shared_company

JAN, FEB, MAR = dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)


def _computed_worked_example() -> None:
    configure_company("EUR", "Europe/Paris", "1")
    load_records("mrr_segments", WORKED_EXAMPLE_SEGMENTS)
    recompute_all()
    PendingChange.objects.all().delete()


# One worker runs the tests of the worked example, so it is computed once. Only those: the
# tests that commit in the standing company stay after the database tests, where the
# suite's order puts them (conftest.py).
with_the_worked_example = pytest.mark.xdist_group("kpi-engine")


@pytest.fixture(scope="module")
def worked_example_company(standing_companies, django_db_blocker):
    """The worked example computed in full, once, in a company of its own."""
    with shared_company(django_db_blocker, "Engine Co", _computed_worked_example) as company:
        yield company


@pytest.fixture
def worked_example(worked_example_company, db):
    """The worked example's company, active; a test's writes and recomputes are rolled back
    with its transaction."""
    with worked_example_company.activate():
        yield worked_example_company


@with_the_worked_example
def test_ledger_holds_one_classified_movement_per_change(worked_example):
    movements = list(
        MrrMovement.objects.filter(customer_ref="E")
        .order_by("day")
        .values_list("day", "kind", "amount", "mrr_before", "mrr_after")
    )
    assert movements == [
        (dt.date(2025, 1, 1), "new", 60, 0, 60),
        (dt.date(2025, 1, 31), "churn", -60, 60, 0),
        (dt.date(2025, 3, 10), "reactivation", 60, 0, 60),
    ]


def test_a_plan_change_at_the_same_price_is_no_movement(acme):
    with acme.activate():
        configure_company("EUR")
        load_records(
            "mrr_segments",
            [
                mrr_segment("Z", "2025-01-01", "2025-02-01", 100),
                {**mrr_segment("Z", "2025-02-01", None, 100), "plan_ref": "other"},
            ],
        )
        recompute_all()
        assert list(MrrMovement.objects.values_list("kind", flat=True)) == ["new"]


def test_segments_convert_at_the_rate_of_their_first_day_and_rate_moves_create_no_movement(acme):
    with acme.activate():
        configure_company("EUR")
        now = timezone.now()
        load_records(
            "exchange_rates",
            [
                {"day": dt.date(2025, 1, 1), "currency": "USD", "rate": Decimal("0.9")},
                {"day": dt.date(2025, 2, 1), "currency": "USD", "rate": Decimal("0.5")},
            ],
        )
        load_records(
            "mrr_segments",
            [
                mrr_segment("U", "2025-01-15", None, 100, currency="USD"),
                mrr_segment("G", "2025-01-15", None, 100, currency="GBP"),
            ],
        )
        recompute_all()
        mrr = stored_values("mrr")
        warnings = list(DataWarning.objects.filter(created_at__gte=now - dt.timedelta(hours=1)))
    assert mrr[JAN].value == Decimal(90)
    assert mrr[FEB].value == Decimal(90)
    # The GBP segment has no rate: left out, and reported.
    assert len(warnings) == 1
    assert "no GBP exchange rate" in warnings[0].message
    assert warnings[0].customer_ref == "G"


def _computed_at(key: str, grain: str = "month") -> dict[dt.date, dt.datetime]:
    return {start: value.computed_at for start, value in stored_values(key, grain).items()}


@with_the_worked_example
def test_new_segment_recomputes_only_from_its_period_on(worked_example):
    before = _computed_at("mrr")
    load_records("mrr_segments", [mrr_segment("F", "2025-03-15", None, 40)])
    assert PendingChange.objects.filter(dataset="mrr_segments").exists()
    recompute_pending()
    after = _computed_at("mrr")
    mrr = stored_values("mrr")
    assert mrr[MAR].value == 360
    assert mrr[FEB].value == 280
    assert after[JAN] == before[JAN] and after[FEB] == before[FEB]
    assert after[MAR] > before[MAR]
    assert stored_values("new_business_mrr")[MAR].value == 40
    assert not PendingChange.objects.exists()


@pytest.fixture
def sync_connection(request):
    """Another database session, as a sync running beside the test would have; call it with
    the company's schema. What it committed is removed after the test's transaction is rolled
    back (request this fixture before the company, so its clean-up runs last)."""
    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"], host=settings["HOST"], port=settings["PORT"], user=settings["USER"]
    )

    def in_schema(schema_name: str) -> psycopg.Connection:
        other.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema_name)))
        return other

    yield in_schema
    other.rollback()
    # Without the triggers: the clean-up is not a change to recompute.
    other.execute("SET session_replication_role = replica")
    other.execute("DELETE FROM data_mrr_segments WHERE external_id LIKE 'sync-%'")
    other.execute("DELETE FROM kpis_ledger_dirty_customer WHERE customer_ref LIKE 'sync-%'")
    other.commit()
    other.close()


@with_the_worked_example
def test_segment_write_committing_after_a_ledger_build_is_picked_up_by_the_next_build(
    sync_connection, worked_example
):
    sync = sync_connection(worked_example.schema_name)
    # A sync's transaction, started an hour ago, writes a segment but has not committed yet.
    sync.execute(
        "INSERT INTO data_mrr_segments (source, external_id, updated_at, customer_ref, "
        "subscription_ref, plan_ref, starts_on, mrr_minor, currency) VALUES ('import', "
        "'sync-1', now() - interval '1 hour', 'sync-F', '', 'plan-40', '2025-03-15', 4000, "
        "'EUR')"
    )
    # Meanwhile another write is recomputed: the ledger build cannot see the sync's segment.
    load_records("mrr_segments", [mrr_segment("G", "2025-03-20", None, 10)])
    recompute_pending()
    assert stored_values("mrr")[MAR].value == 330
    assert not MrrMovement.objects.filter(customer_ref="sync-F").exists()
    sync.commit()
    # The sync's write is older than that build, yet the next build takes it.
    PendingChange.objects.create(
        dataset="mrr_segments", first_day=dt.date(2025, 3, 15), last_day=dt.date(2025, 3, 15)
    )
    recompute_pending()
    assert stored_values("mrr")[MAR].value == 370
    movements = MrrMovement.objects.filter(customer_ref="sync-F")
    assert list(movements.values_list("kind", "amount")) == [("new", 40)]
    assert not LedgerDirtyCustomer.objects.exists()


@with_the_worked_example
def test_a_failed_ledger_build_keeps_the_changed_customers_for_the_next_one(worked_example):
    load_records("mrr_segments", [mrr_segment("F", "2025-03-15", None, 40)])
    assert list(LedgerDirtyCustomer.objects.values_list("customer_ref", flat=True)) == ["F"]
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        ledger.rebuild_changed(engine.build_context())
        raise ZeroDivisionError  # the build's transaction fails after taking the customers
    assert list(LedgerDirtyCustomer.objects.values_list("customer_ref", flat=True)) == ["F"]
    recompute_pending()
    assert stored_values("mrr")[MAR].value == 360
    assert not LedgerDirtyCustomer.objects.exists()


@with_the_worked_example
def test_changed_segment_recomputes_from_the_earliest_day_its_movements_changed(worked_example):
    before = _computed_at("mrr")
    # D's segment moves from 5 February to 5 January: the change reaches back to January.
    MrrSegment.objects.filter(customer_ref="D").update(
        starts_on=dt.date(2025, 1, 5), updated_at=timezone.now()
    )
    load_records("customers", [{"external_id": "D", "country": "FR"}])
    PendingChange.objects.create(
        dataset="mrr_segments", first_day=dt.date(2025, 2, 5), last_day=dt.date(2025, 2, 5)
    )
    recompute_pending()
    mrr = stored_values("mrr")
    assert mrr[JAN].value == 430
    assert _computed_at("mrr")[JAN] > before[JAN]


@with_the_worked_example
def test_data_a_kpi_does_not_read_recomputes_nothing_of_it(worked_example):
    before = {key: _computed_at(key) for key in ("mrr", "new_customers")}
    load_records(
        "spend", [{"spent_on": dt.date(2025, 3, 3), "amount_minor": 1000, "currency": "EUR"}]
    )
    recompute_pending()
    assert _computed_at("mrr") == before["mrr"]
    # A first payment moves new customers only.
    load_records(
        "payments",
        [
            {
                "customer_ref": "P",
                "occurred_at": dt.datetime(2025, 3, 4, 12, tzinfo=dt.UTC),
                "amount_minor": 5000,
                "currency": "EUR",
            }
        ],
    )
    recompute_pending()
    assert _computed_at("mrr") == before["mrr"]
    assert stored_values("new_customers")[MAR].value == 1
    assert _computed_at("new_customers")[FEB] == before["new_customers"][FEB]


@dataclass
class BrokenKPI(KPI):
    def compute(self, context, periods):
        raise ZeroDivisionError("bad plugin arithmetic")


@dataclass
class EchoMrrKPI(KPI):
    """Reads another KPI's values through the context (depends_on)."""

    def compute(self, context, periods):
        for period, result in context.values_of("mrr", periods).items():
            yield KPIValue(period, KPIResult.amount(result.value))


@with_the_worked_example
def test_a_failing_kpi_is_recorded_and_the_others_are_computed(worked_example):
    kpis = {
        **registered_kpis(),
        "broken": BrokenKPI(key="broken", requires=("mrr_segments",)),
        "echo": EchoMrrKPI(key="echo", requires=("mrr_segments",), depends_on=("mrr",)),
    }
    report = engine.compute_kpis(kpis=kpis, grains=["month"])
    assert "broken" in report.failed
    assert "mrr" in report.computed
    assert report.computed.index("mrr") < report.computed.index("echo")
    assert stored_values("echo")[MAR].value == 320
    failure = KPIComputation.objects.get(kpi="broken")
    assert "bad plugin arithmetic" in failure.error


@with_the_worked_example
def test_values_no_longer_produced_are_removed(worked_example):
    assert stored_values("mrr", "quarter", "country", "unknown")
    load_records("customers", [{"external_id": c, "country": "DE"} for c in "ABCDE"])
    recompute_all()
    assert not stored_values("mrr", "quarter", "country", "unknown")
    assert stored_values("mrr", "quarter", "country", "DE")[JAN].value == 320


END_OF_MARCH = dt.date(2025, 3, 31)


@dataclass
class ByChannelKPI(KPI):
    """Stores the values it is given: per period start, the value of each channel (and their
    sum as the total); no value for a period it is given nothing for."""

    channels: dict = field(default_factory=dict)

    def compute(self, context, periods):
        for period in periods:
            channels = self.channels.get(period.start)
            if channels is not None:
                yield KPIValue(period, KPIResult.amount(sum(channels.values())))
                for channel, value in channels.items():
                    yield KPIValue(period, KPIResult.amount(value), "channel", channel)


def _by_channel(kpi: ByChannelKPI, grains=("month",), first_day=None) -> None:
    report = engine.compute_kpis(
        kpis={kpi.key: kpi}, grains=grains, first_day=first_day, last_day=END_OF_MARCH
    )
    assert report.computed == [kpi.key], report.failed


def _stored(key: str, grain: str = "month") -> dict[tuple[dt.date, str], Decimal]:
    rows = StoredKPIValue.objects.filter(kpi=key, grain=grain)
    return {
        (start, segment): value
        for start, segment, value in rows.values_list("period_start", "segment", "value")
    }


@with_the_worked_example
def test_a_run_from_a_day_replaces_the_values_of_its_periods_and_keeps_the_earlier_ones(
    worked_example,
):
    kpi = ByChannelKPI(key="by_channel", requires=("mrr_segments",))
    kpi.channels = {JAN: {"ads": 1, "seo": 2}, FEB: {"ads": 3, "seo": 4}, MAR: {"ads": 5}}
    _by_channel(kpi)
    january = _computed_at("by_channel")[JAN]
    # From 10 February on: SEO no longer has values, March none at all.
    kpi.channels = {JAN: {"ads": 100}, FEB: {"ads": 30}}
    _by_channel(kpi, first_day=dt.date(2025, 2, 10))
    assert _stored("by_channel") == {
        (JAN, ""): 3,
        (JAN, "ads"): 1,
        (JAN, "seo"): 2,
        (FEB, ""): 30,
        (FEB, "ads"): 30,
    }
    assert _computed_at("by_channel")[JAN] == january


@with_the_worked_example
def test_a_full_run_replaces_every_stored_value_of_the_kpi_at_its_grains(worked_example):
    kpi = ByChannelKPI(key="by_channel", requires=("mrr_segments",))
    kpi.channels = {JAN: {"ads": 1, "seo": 2}, FEB: {"ads": 3}, MAR: {"ads": 5}}
    _by_channel(kpi, grains=("month", "quarter"))
    kpi.channels = {FEB: {"seo": 4}}
    _by_channel(kpi)
    assert _stored("by_channel") == {(FEB, ""): 4, (FEB, "seo"): 4}
    # The other grain was not computed: its values stay.
    assert _stored("by_channel", "quarter") == {(JAN, ""): 3, (JAN, "ads"): 1, (JAN, "seo"): 2}


@dataclass
class NumbersKPI(KPI):
    """A plugin's numbers of any type: a long Decimal, an int, a float, none."""

    def compute(self, context, periods):
        for period in periods:
            yield KPIValue(period, KPIResult(Decimal("0.12345678901234567"), 3, 2.5))
            yield KPIValue(period, KPIResult(None, reason="x" * 300), "channel", "none")


@with_the_worked_example
def test_numbers_of_any_type_are_stored_at_the_precision_of_the_table(worked_example):
    kpi = NumbersKPI(key="numbers", requires=("mrr_segments",))
    report = engine.compute_kpis(kpis={"numbers": kpi}, grains=["month"], last_day=END_OF_MARCH)
    assert report.computed == ["numbers"], report.failed
    value = stored_values("numbers")[MAR]
    assert (value.value, value.numerator, value.denominator) == (
        Decimal("0.123456789012"),
        3,
        Decimal("2.5"),
    )
    undefined = stored_values("numbers", "month", "channel", "none")[MAR]
    assert undefined.value is None and undefined.reason == "x" * 255


@dataclass
class HeldKPI(KPI):
    """Its value is ``value``. Given ``release``, computing its second grain says so
    (``holding``: the run holds its turn, its first grain stored) and waits for ``release``."""

    value: int = 0
    holding: threading.Event | None = None
    release: threading.Event | None = None

    def compute(self, context, periods):
        if periods[0].grain == Grain.QUARTER and self.release is not None:
            self.holding.set()
            assert self.release.wait(timeout=30)
        return [KPIValue(period, KPIResult.amount(self.value)) for period in periods]


def test_two_runs_storing_the_same_kpi_take_turns(standing_companies, django_db_blocker):
    """The second run waits, inside its KPI's transaction, for the first to commit, then
    replaces its values. Each step is observed, not slept on: the first run says when it
    holds its turn, and PostgreSQL says when the second waits for it."""
    acme = standing_companies["acme"]
    key = f"held_{uuid.uuid4().hex[:10]}"  # a KPI of this test alone
    holding, release = threading.Event(), threading.Event()
    backends: dict[str, int] = {}
    connected = {"first": threading.Event(), "second": threading.Event()}
    reports: dict[str, object] = {}

    def run(name: str, kpi: HeldKPI, grains: list[str]) -> None:
        try:
            with acme.activate():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    backends[name] = cursor.fetchone()[0]
                connected[name].set()
                reports[name] = engine.compute_kpis(
                    kpis={kpi.key: kpi}, grains=grains, last_day=END_OF_MARCH
                )
        except Exception as exc:
            reports[name] = exc
        finally:
            connection.close()

    first_kpi = HeldKPI(key=key, value=1, holding=holding, release=release)
    first = threading.Thread(target=run, args=("first", first_kpi, ["month", "quarter"]))
    second = threading.Thread(target=run, args=("second", HeldKPI(key=key, value=2), ["month"]))
    started = timezone.now()
    with django_db_blocker.unblock():
        try:
            first.start()
            assert holding.wait(timeout=30), reports  # the first run stored its month
            second.start()
            assert connected["second"].wait(timeout=30), reports
            _wait_until_blocked(backends["second"], by=backends["first"])
            release.set()
            first.join(timeout=30)
            second.join(timeout=30)
            with acme.activate():
                months = list(
                    StoredKPIValue.objects.filter(kpi=key, grain="month").values_list(
                        "period_start", "value"
                    )
                )
        finally:
            release.set()
            first.join(timeout=30)
            second.join(timeout=30)
            # What the runs committed, including the errors of the test plugins that fail
            # on purpose when told about new values.
            with acme.activate():
                StoredKPIValue.objects.filter(kpi=key).delete()
                KPIComputation.objects.filter(kpi=key).delete()
                PluginError.objects.filter(occurred_at__gte=started).delete()
            connection.set_schema_to_public()
    assert reports["first"].computed == [key], reports["first"]
    assert reports["second"].computed == [key], reports["second"]
    assert months == [(MAR, 2)]  # the second run's, stored after the first committed


def _wait_until_blocked(pid: int, by: int, timeout_s: float = 30) -> None:
    """Until the session ``pid`` waits for a lock that the session ``by`` holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT %s = ANY(pg_blocking_pids(%s))", [by, pid])
            if cursor.fetchone()[0]:
                return
        assert time.monotonic() < deadline, f"session {pid} never waited for session {by}"
        time.sleep(0.01)


@with_the_worked_example
def test_recompute_command_covers_every_company(worked_example, capsys):
    call_command("recompute_kpis", "--company", worked_example.slug)
    assert f"{worked_example.slug}:" in capsys.readouterr().out


def test_a_write_records_its_changes_for_the_recompute_it_schedules(
    acme, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks, acme.activate():
        PendingChange.objects.all().delete()
        load_records("mrr_segments", [mrr_segment("X", "2025-01-01", None, 10)])
        load_records("mrr_segments", [mrr_segment("Y", "2025-02-01", None, 10)])
        assert PendingChange.objects.count() == 2
    # Each write makes sure of a recompute once committed (the first one sends it, see
    # tests/test_celery_tasks.py).
    assert len(callbacks) == 2


@with_the_worked_example
def test_kpis_built_from_other_kpis_cover_every_period_of_their_inputs(worked_example):
    """LTV:CAC reads no dataset itself: it has values wherever CLV and CAC have."""
    load_records(
        "spend",
        [
            {"spent_on": "2025-02-10", "amount_minor": 10_000, "currency": "EUR"},
            {"spent_on": "2025-03-10", "amount_minor": 5_000, "currency": "EUR"},
        ],
    )
    recompute_all()
    ltv_to_cac = stored_values("ltv_to_cac")
    # February: CLV 280.00 (the worked example) ÷ CAC (100 spend ÷ 1 new customer, D) = 2.8
    assert ltv_to_cac[FEB].value == Decimal("2.8")
    # March: no new customers, so no CAC and no LTV:CAC, with the reason.
    assert ltv_to_cac[MAR].value is None and "CAC" in ltv_to_cac[MAR].reason
    assert JAN in ltv_to_cac  # January too: CLV undefined there, said so
    assert ltv_to_cac[JAN].value is None and ltv_to_cac[JAN].reason


# --- periods bounded by the data ---------------------------------------------------------
@with_the_worked_example
def test_a_stray_record_years_away_costs_a_year_of_periods_and_deleting_it_removes_them(
    worked_example,
):
    stray = {"external_id": "stray", "spent_on": dt.date(1990, 1, 1), "amount_minor": 1000}
    load_records("spend", [{**stray, "currency": "EUR"}])
    report = recompute_pending()
    assert not report.failed
    reach = dt.timedelta(days=engine.DATA_REACH_DAYS)
    # Spend: the stray day and the year after it, nothing of the 34 years to today.
    assert sorted(stored_values("spend", "day")) == [
        dt.date(1990, 1, 1) + dt.timedelta(days=n) for n in range(engine.DATA_REACH_DAYS + 1)
    ]
    assert sorted(stored_values("spend", "year")) == [dt.date(1990, 1, 1), dt.date(1991, 1, 1)]
    assert stored_values("spend", "month")[dt.date(1990, 1, 1)].value == 10
    # CAC reads spend and the customers' segments: the stray year, then 2025 on.
    cac_days = sorted(stored_values("cac", "day"))
    assert [day for day in cac_days if day < JAN] == sorted(stored_values("spend", "day"))
    assert next(day for day in cac_days if day >= JAN) == JAN
    assert dt.date(1991, 1, 1) + reach not in cac_days
    assert StoredKPIValue.objects.count() < 60_000
    # Deleting the record removes the values of the periods it alone held.
    BulkWriter("import").delete("spend", ["stray"])
    recompute_pending()
    assert not StoredKPIValue.objects.filter(period_start__lt=dt.date(2024, 12, 1)).exists()
    assert set(stored_values("spend", "day")) == {timezone.now().date()}
    assert sorted(stored_values("cac", "day"))[0] == JAN


@with_the_worked_example
def test_a_recompute_after_changes_stores_what_a_full_one_does_across_gaps_in_the_data(
    worked_example,
):
    load_records(
        "spend",
        [
            {"spent_on": dt.date(2019, 5, 20), "amount_minor": 500, "currency": "EUR"},
            {"spent_on": dt.date(2022, 12, 31), "amount_minor": 700, "currency": "EUR"},
        ],
    )
    recompute_pending()
    # A change inside the first stretch of data, one in the gap after it.
    load_records("spend", [{"spent_on": dt.date(2019, 9, 1), "amount_minor": 1, "currency": "EUR"}])
    recompute_pending()
    PendingChange.objects.create(
        dataset="spend", first_day=dt.date(2021, 3, 3), last_day=dt.date(2021, 3, 3)
    )
    recompute_pending()
    incremental = _every_value()
    recompute_all()
    assert _every_value() == incremental
    assert min(stored_values("spend", "week")) == dt.date(2019, 5, 20)
    assert dt.date(2021, 1, 1) not in stored_values("spend", "quarter")


def _every_value() -> dict:
    return {
        (v.kpi, v.grain, v.period_start, v.segment_kind, v.segment): (v.value, v.reason)
        for v in StoredKPIValue.objects.all()
    }


# --- time limits -------------------------------------------------------------------------
@with_the_worked_example
def test_a_kpi_whose_query_runs_past_the_statement_timeout_fails_in_words_and_others_store(
    worked_example, settings, monkeypatch
):
    # kpiplatform-stall (tests/fixtures/plugins): its KPI sleeps 5 s in PostgreSQL.
    monkeypatch.setenv("KPIPLATFORM_STALL", "sleep:5")
    settings.KPI_STATEMENT_TIMEOUT_S = 0.3
    started = time.monotonic()
    report = engine.compute_kpis(keys=["stall_segment_count", "mrr", "spend"], grains=["month"])
    assert time.monotonic() - started < 4
    reason = (
        "timed out: a query ran longer than the statement timeout (0.3 s, "
        "KPI_STATEMENT_TIMEOUT_S) and was cancelled"
    )
    assert report.failed == {"stall_segment_count": reason}
    assert sorted(report.computed) == ["mrr", "spend"]
    failure = KPIComputation.objects.get(kpi="stall_segment_count")
    assert failure.error.splitlines()[0] == reason
    assert stored_values("mrr")[MAR].value == 320


def test_a_kpi_that_waits_past_the_lock_timeout_fails_in_words(
    standing_companies, django_db_blocker, settings, monkeypatch
):
    acme = standing_companies["acme"]
    key = 918_273_645
    monkeypatch.setenv("KPIPLATFORM_STALL", f"lock:{key}")
    settings.KPI_LOCK_TIMEOUT_S = 0.3
    with django_db_blocker.unblock():
        db = connection.settings_dict
        with psycopg.connect(
            dbname=db["NAME"], host=db["HOST"], port=db["PORT"], user=db["USER"], autocommit=True
        ) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", [key])
            try:
                with acme.activate():
                    report = engine.compute_kpis(keys=["stall_segment_count"], grains=["month"])
            finally:
                with acme.activate():
                    KPIComputation.objects.filter(kpi="stall_segment_count").delete()
                    StoredKPIValue.objects.filter(kpi="stall_segment_count").delete()
                connection.set_schema_to_public()
    assert report.failed == {
        "stall_segment_count": "timed out: waited longer than the lock timeout (0.3 s, "
        "KPI_LOCK_TIMEOUT_S) for a lock that another transaction holds"
    }
