"""The bulk writer: upserts by (source, external_id), idempotence, tombstones, changed ranges."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from kpiplatform.data.models import DATASETS, MrrSegment, Payment, Plan
from kpiplatform.data.signals import data_changed
from kpiplatform.data.writer import BulkWriter, WriteError

UTC = dt.UTC


def payment(ext: str, day: dt.date, amount: int = 1000, **extra) -> dict:
    occurred = dt.datetime.combine(day, dt.time(12), tzinfo=UTC)
    return {
        "external_id": ext,
        "occurred_at": occurred,
        "amount_minor": amount,
        "currency": "EUR",
        **extra,
    }


@pytest.fixture
def signals():
    received = []

    def listener(sender, changes, schema_name, **kwargs):
        received.append((schema_name, dict(changes.ranges)))

    data_changed.connect(listener)
    yield received
    data_changed.disconnect(listener)


def test_upsert_inserts_then_identical_rewrite_changes_nothing(acme):
    rows = [payment(f"p{i}", dt.date(2025, 3, 1 + i)) for i in range(5)]
    with acme.activate():
        first = BulkWriter("stripe:1")
        assert first.upsert("payments", rows) == 5
        assert first.counts.inserted == 5
        stamps = dict(Payment.objects.values_list("external_id", "updated_at"))

        again = BulkWriter("stripe:1")
        assert again.upsert("payments", rows) == 0
        assert (again.counts.inserted, again.counts.updated, again.counts.unchanged) == (0, 0, 5)
        assert dict(Payment.objects.values_list("external_id", "updated_at")) == stamps
        assert again.changes.ranges == {}


def test_defaults_fill_omitted_columns_and_count_as_unchanged_when_rewritten_explicitly(acme):
    with acme.activate():
        BulkWriter("s").upsert("payments", [payment("p1", dt.date(2025, 1, 5))])
        stored = Payment.objects.get(external_id="p1")
        assert (stored.kind, stored.status, stored.tax_minor, stored.is_order) == (
            "charge",
            "succeeded",
            0,
            False,
        )
        explicit = payment("p1", dt.date(2025, 1, 5), kind="charge", tax_minor=0, customer_ref="")
        writer = BulkWriter("s")
        writer.upsert("payments", [explicit])
        assert writer.counts.unchanged == 1


def test_same_external_id_in_two_sources_are_two_records(acme):
    with acme.activate():
        BulkWriter("a").upsert("payments", [payment("p1", dt.date(2025, 1, 5))])
        BulkWriter("b").upsert("payments", [payment("p1", dt.date(2025, 1, 5), amount=5)])
        assert Payment.objects.filter(external_id="p1").count() == 2


def test_changed_row_is_updated_and_its_old_and_new_days_are_touched(acme, signals):
    with acme.activate():
        BulkWriter("s").upsert(
            "payments", [payment("p1", dt.date(2025, 3, 10)), payment("p2", dt.date(2025, 4, 1))]
        )
        before = Payment.objects.get(external_id="p2").updated_at
        signals.clear()
        writer = BulkWriter("s")
        moved = payment("p1", dt.date(2025, 5, 20), amount=2000)
        writer.upsert("payments", [moved, payment("p2", dt.date(2025, 4, 1))])
        assert (writer.counts.inserted, writer.counts.updated, writer.counts.unchanged) == (0, 1, 1)
        stored = Payment.objects.get(external_id="p1")
        assert stored.amount_minor == 2000
        assert stored.occurred_at.date() == dt.date(2025, 5, 20)
        assert Payment.objects.get(external_id="p2").updated_at == before
    # Timestamps are widened by a day each side: the company's time zone is not known here.
    expected = {"payments": (dt.date(2025, 3, 9), dt.date(2025, 5, 21))}
    assert writer.changes.ranges == expected
    assert signals == [(acme.schema_name, expected)]


def test_date_datasets_report_exact_days(acme, signals):
    rows = [
        {
            "external_id": "s1",
            "spent_on": dt.date(2025, 2, 3),
            "amount_minor": 100,
            "currency": "USD",
        },
        {"external_id": "s2", "spent_on": "2025-02-09", "amount_minor": 100, "currency": "USD"},
    ]
    with acme.activate():
        writer = BulkWriter("import")
        writer.upsert("spend", rows)
    assert writer.changes.ranges == {"spend": (dt.date(2025, 2, 3), dt.date(2025, 2, 9))}
    assert signals[-1][1] == {"spend": (dt.date(2025, 2, 3), dt.date(2025, 2, 9))}


def test_delete_tombstones_and_reupsert_revives(acme, signals):
    with acme.activate():
        BulkWriter("s").upsert("payments", [payment("p1", dt.date(2025, 6, 1))])
        signals.clear()
        writer = BulkWriter("s")
        assert writer.delete("payments", ["p1", "missing"]) == 1
        assert Payment.objects.get(external_id="p1").deleted_at is not None
        assert signals[-1][1] == {"payments": (dt.date(2025, 5, 31), dt.date(2025, 6, 2))}
        assert writer.delete("payments", ["p1"]) == 0  # already gone

        revive = BulkWriter("s")
        revive.upsert("payments", [payment("p1", dt.date(2025, 6, 1))])
        assert revive.counts.updated == 1
        assert Payment.objects.get(external_id="p1").deleted_at is None


def test_purge_in_batches_removes_a_source_tombstones_too_and_reports_each_batchs_days(
    acme, signals
):
    days = [dt.date(2025, 1, 10), dt.date(2025, 3, 5), dt.date(2025, 2, 1), dt.date(2025, 7, 4)]
    with acme.activate():
        BulkWriter("s").upsert("payments", [payment(f"p{i}", d) for i, d in enumerate(days)])
        BulkWriter("s").delete("payments", ["p3"])  # a tombstone: purged, not counted live
        BulkWriter("other").upsert("payments", [payment("p0", dt.date(2025, 1, 10))])
        signals.clear()
        writer = BulkWriter("s")
        first = writer.purge("payments", limit=2)
        assert (first.live, first.rows, first.last) == (2, 2, "p1")  # in external id order
        assert signals[-1][1] == {"payments": (dt.date(2025, 1, 9), dt.date(2025, 3, 6))}
        second = writer.purge("payments", limit=2, after=first.last)
        assert (second.live, second.rows, second.last) == (1, 2, "p3")
        assert signals[-1][1] == {"payments": (dt.date(2025, 1, 31), dt.date(2025, 7, 5))}
        last = writer.purge("payments", limit=2, after=second.last)
        assert (last.live, last.rows, last.last) == (0, 0, "p3")  # fewer than 2: none left
        assert list(Payment.objects.values_list("source", "external_id")) == [("other", "p0")]
        assert writer.counts.deleted == 3
        assert len(signals) == 2  # the empty batch changed nothing
        whole = BulkWriter("other").purge("payments")  # no limit: every record at once
        assert (whole.live, whole.rows, whole.last) == (1, 1, "p0")
        assert not Payment.objects.exists()


def test_last_record_of_an_id_wins_within_a_call(acme):
    with acme.activate():
        writer = BulkWriter("s", page_size=2)
        rows = [payment("p1", dt.date(2025, 1, 1), amount=a) for a in (1, 2, 3)]
        rows.append(payment("p2", dt.date(2025, 1, 1)))
        writer.upsert("payments", rows)
        assert Payment.objects.get(external_id="p1").amount_minor == 3
        assert Payment.objects.count() == 2


def test_many_pages_are_all_written(acme):
    rows = [payment(f"p{i}", dt.date(2025, 1, 1) + dt.timedelta(days=i % 90)) for i in range(2500)]
    with acme.activate():
        writer = BulkWriter("s", page_size=1000)
        writer.upsert("payments", rows)
        assert Payment.objects.count() == 2500
    assert writer.changes.ranges == {"payments": (dt.date(2024, 12, 31), dt.date(2025, 4, 1))}


def test_rows_go_to_the_active_company_schema_only(acme, globex):
    with acme.activate():
        BulkWriter("s").upsert("payments", [payment("only-acme", dt.date(2025, 1, 1))])
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_schema()")
            assert cursor.fetchone()[0] == acme.schema_name
    with globex.activate():
        assert not Payment.objects.filter(external_id="only-acme").exists()
    with acme.activate():
        assert Payment.objects.filter(external_id="only-acme").exists()


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"external_id": "x", "amount_minor": 1, "currency": "EUR"}, "occurred_at: required"),
        (
            {
                "external_id": "x",
                "occurred_at": dt.datetime(2025, 1, 1),
                "amount_minor": 1,
                "currency": "EUR",
            },
            "timezone-aware",
        ),
        ({**payment("x", dt.date(2025, 1, 1)), "currency": "eur"}, "ISO 4217"),
        ({**payment("x", dt.date(2025, 1, 1)), "kind": "gift"}, "not one of"),
        ({**payment("x", dt.date(2025, 1, 1)), "amount": 1}, "unknown column"),
        ({**payment("x", dt.date(2025, 1, 1)), "amount_minor": "lots"}, "bigint"),
    ],
)
def test_bad_records_are_refused_and_nothing_of_the_page_is_written(acme, record, message):
    with acme.activate():
        with pytest.raises(WriteError, match=message):
            BulkWriter("s").upsert("payments", [payment("ok", dt.date(2025, 1, 1)), record])
        assert not Payment.objects.exists()


@pytest.mark.parametrize(
    ("dataset", "record", "message"),
    [
        ("spend", {"spent_on": dt.date(1, 1, 1)}, "spent_on: 0001-01-01 is before 1990-01-01"),
        ("spend", {"spent_on": "0001-01-01"}, "spent_on: 0001-01-01 is before 1990-01-01"),
        ("spend", {"spent_on": dt.date(9999, 12, 31)}, "spent_on: 9999-12-31 is after"),
        ("spend", {"spent_on": "yesterday"}, "spent_on: not an ISO date"),
        ("spend", {"currency": "XYZ"}, "currency: 'XYZ' is not an ISO 4217 currency code"),
        (
            "payments",
            {"occurred_at": dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5)))},
            "occurred_at: 0001-01-01 is before 1990-01-01",
        ),
        (
            "payments",
            {"occurred_at": "9999-12-31T23:59:59-05:00"},
            "occurred_at: 9999-12-31 is after",
        ),
        ("customers", {"country": "ZZ"}, "country: 'ZZ' is not an ISO 3166 country code"),
    ],
)
def test_days_outside_the_accepted_range_and_unknown_codes_are_refused(
    acme, dataset, record, message
):
    base = {
        "spend": {"spent_on": dt.date(2025, 1, 1), "amount_minor": 1, "currency": "USD"},
        "payments": payment("x", dt.date(2025, 1, 1)),
        "customers": {},
    }[dataset]
    with acme.activate():
        with pytest.raises(WriteError, match=f"{dataset} record 1, {message}"):
            BulkWriter("s").upsert(dataset, [{**base, "external_id": "x", **record}])
        assert not DATASETS[dataset].objects.exists()


def test_mrr_segment_end_before_start_is_refused_by_the_database(acme):
    segment = {
        "external_id": "m1",
        "customer_ref": "c1",
        "starts_on": dt.date(2025, 3, 1),
        "ends_on": dt.date(2025, 2, 1),
        "mrr_minor": 100,
        "currency": "EUR",
    }
    with acme.activate():
        with pytest.raises(WriteError, match="mrr_segment_ends_after_start"):
            BulkWriter("s").upsert("mrr_segments", [segment])
        assert not MrrSegment.objects.exists()


def test_datasets_without_a_date_report_today(acme):
    today = dt.datetime.now(UTC).date()
    with acme.activate():
        writer = BulkWriter("s")
        writer.upsert(
            "plans", [{"external_id": "pro", "name": "Pro", "amount_minor": 900, "currency": "USD"}]
        )
        assert Plan.objects.get().interval == "month"
    assert writer.changes.ranges == {
        "plans": (today - dt.timedelta(days=1), today + dt.timedelta(days=1))
    }


def test_unknown_dataset_is_refused(acme):
    with acme.activate(), pytest.raises(WriteError, match="Unknown dataset"):
        BulkWriter("s").upsert("invoices", [])


def test_writing_outside_a_company_schema_is_refused(db):
    with pytest.raises(WriteError, match="No company schema"):
        BulkWriter("s").upsert("payments", [payment("p1", dt.date(2025, 1, 1))])
