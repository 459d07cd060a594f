"""Retention and churn of the customers active at the start of a period, against numbers worked
out by hand and against the segments themselves: customers moving several times in a period,
movements after the last day computed, customers whose movements all lie before the first
period computed, and a recompute from a later first day giving the values of a full one.

EUR, last day computed 15 May 2025:

| customer | country | segments |
| --- | --- | --- |
| A | FR | 100 from 1 Dec 2024, 160 from 10 Apr, 120 from 25 Apr to 20 May (after the last day) |
| B | FR | 50 from 15 Nov 2024 to 5 Apr; 80 from 2 May |
| C | DE | 70 from 20 Apr |
| D | DE | 40 from 1 Oct 2024 (never moves in 2025) |
| E | (none) | 30 from 10 Jan to 1 Feb |

| | MRR at start | cohort | its MRR at end | its min(end, start) | still active | churns |
| --- | --- | --- | --- | --- | --- | --- |
| April | 190 (A 100, B 50, D 40) | A, B, D | 160 (120, 0, 40) | 140 | 2 (A, D) | 1 (B) |
| May | 230 (A 120, C 70, D 40) | A, C, D | 230 | 230 | 3 | 0 (A leaves after 15 May) |
| Q2 | 190 | A, B, D | 240 (120, 80, 40) | 190 | 3 | 1 (B) |
| 2025 | 190 | A, B, D | 240 | 190 | 3 | 2 (E, B) |

By country in Q2: FR (A, B) 150 at the start, 200 at the end; DE (D) 40 and 40.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpiplatform.data.models import Customer, MrrSegment
from kpiplatform.facts import refresh as facts_refresh
from kpiplatform.kpis import engine
from kpiplatform.kpis.models import StoredKPIValue
from kpiplatform.sdk import Grain, Period
from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import configure_company, mrr_segment, stored_values

LAST_DAY = dt.date(2025, 5, 15)
APR, MAY, Q2, Y2025 = (
    dt.date(2025, 4, 1),
    dt.date(2025, 5, 1),
    dt.date(2025, 4, 1),
    dt.date(2025, 1, 1),
)

SEGMENTS = [
    mrr_segment("A", "2024-12-01", "2025-04-10", 100),
    mrr_segment("A", "2025-04-10", "2025-04-25", 160),
    mrr_segment("A", "2025-04-25", "2025-05-20", 120),
    mrr_segment("B", "2024-11-15", "2025-04-05", 50),
    mrr_segment("B", "2025-05-02", None, 80),
    mrr_segment("C", "2025-04-20", None, 70),
    mrr_segment("D", "2024-10-01", None, 40),
    mrr_segment("E", "2025-01-10", "2025-02-01", 30),
]
COUNTRIES = {"A": "FR", "B": "FR", "C": "DE", "D": "DE"}
KEYS = [
    "mrr",
    "active_customers",
    "churned_customers",
    "customer_churn_rate",
    "nrr",
    "grr",
    "customer_retention_rate",
    "net_new_mrr",
    "clv",
]

# (grain, period start): NRR, GRR and customer retention as (numerator, denominator), churns.
EXPECTED = {
    ("month", APR): ((160, 190), (140, 190), (2, 3), 1),
    ("month", MAY): ((230, 230), (230, 230), (3, 3), 0),
    ("quarter", Q2): ((240, 190), (190, 190), (3, 3), 1),
    ("year", Y2025): ((240, 190), (190, 190), (3, 3), 2),
}


def _load_example() -> None:
    configure_company("EUR")
    load_records(
        "customers", [{"external_id": c, "country": country} for c, country in COUNTRIES.items()]
    )
    load_records("mrr_segments", SEGMENTS)
    facts_refresh.rebuild_all(engine.build_context())


def _compute(first_day: dt.date | None, last_day: dt.date = LAST_DAY, keys=KEYS) -> None:
    report = engine.compute_kpis(keys=keys, first_day=first_day, last_day=last_day)
    assert not report.failed, report.failed


def _ratio(key: str, grain: str, start: dt.date, kind: str = "", segment: str = ""):
    stored = stored_values(key, grain, kind, segment)[start]
    return (stored.numerator, stored.denominator)


def _snapshot(keys=KEYS) -> dict:
    return {
        (v.kpi, v.grain, v.period_start, v.segment_kind, v.segment): (
            v.value,
            v.numerator,
            v.denominator,
            v.reason,
        )
        for v in StoredKPIValue.objects.filter(kpi__in=keys)
    }


def test_retention_of_customers_moving_several_times_and_after_the_last_day(acme):
    with acme.activate():
        _load_example()
        _compute(None)
        for (grain, start), (nrr, grr, retention, churns) in EXPECTED.items():
            assert _ratio("nrr", grain, start) == nrr, (grain, start)
            assert _ratio("grr", grain, start) == grr, (grain, start)
            assert _ratio("customer_retention_rate", grain, start) == retention, (grain, start)
            assert stored_values("churned_customers", grain)[start].value == churns
        # A's churn on 20 May lies after the last day computed: May ends with A's 120.
        assert stored_values("mrr", "month")[MAY].value == 310
        assert stored_values("active_customers", "quarter")[Q2].value == 4
        assert _ratio("nrr", "quarter", Q2, "country", "FR") == (200, 150)
        assert _ratio("nrr", "quarter", Q2, "country", "DE") == (40, 40)
        # Q2 (up to the last day) moves as much as April and May.
        months = stored_values("net_new_mrr", "month")
        quarter = stored_values("net_new_mrr", "quarter")[Q2].value
        assert quarter == months[APR].value + months[MAY].value == 120


def test_a_recompute_from_a_later_day_gives_the_values_of_a_full_one(acme):
    """D and E only move before the first period of the later recompute: they still count
    in the MRR and the active customers each period starts with."""
    with acme.activate():
        _load_example()
        _compute(None)
        full = _snapshot()
        for first_day in (dt.date(2025, 4, 1), dt.date(2025, 5, 14), dt.date(2025, 1, 2)):
            StoredKPIValue.objects.filter(kpi__in=KEYS, period_end__gt=first_day).delete()
            _compute(first_day)
            assert _snapshot() == full, first_day


# The property: for any segment history, the stored retention figures are those of the
# segments, and a recompute from a later first day gives the values of a full recompute.
FIRST = dt.date(2025, 1, 1)
LAST = dt.date(2025, 8, 31)
SPAN = (LAST - FIRST).days


@st.composite
def segment_histories(draw) -> list[dict]:
    segments = []
    for customer in draw(st.lists(st.sampled_from("ABCDEF"), min_size=1, max_size=10)):
        # Some segments start before the first day or end after the last one.
        start = draw(st.integers(-60, SPAN - 1))
        length = draw(st.one_of(st.none(), st.integers(1, 120)))
        starts_on = FIRST + dt.timedelta(days=start)
        segments.append(
            {
                "customer_ref": customer,
                "plan_ref": draw(st.sampled_from(["basic", "pro"])),
                "starts_on": starts_on,
                "ends_on": None if length is None else starts_on + dt.timedelta(days=length),
                "mrr_minor": draw(st.integers(1, 50_000)),
                "currency": "EUR",
            }
        )
    return segments


def mrr_of(segments: list[dict], customer: str, day: dt.date) -> Decimal:
    return sum(
        (
            Decimal(s["mrr_minor"]) / 100
            for s in segments
            if s["customer_ref"] == customer
            and s["starts_on"] <= day
            and (s["ends_on"] is None or day < s["ends_on"])
        ),
        Decimal(0),
    )


def expected_retention(segments: list[dict], period: Period) -> dict[str, tuple]:
    customers = sorted({s["customer_ref"] for s in segments})
    start_day = period.start - dt.timedelta(days=1)
    end_day = min(period.last_day, LAST)
    start = {c: mrr_of(segments, c, start_day) for c in customers}
    end = {c: mrr_of(segments, c, end_day) for c in customers}
    cohort = [c for c in customers if start[c] > 0]
    churns = 0
    day = period.start
    while day <= end_day:
        yesterday = day - dt.timedelta(days=1)
        churns += sum(
            1
            for c in customers
            if mrr_of(segments, c, yesterday) > 0 and not mrr_of(segments, c, day)
        )
        day += dt.timedelta(days=1)
    return {
        "nrr": (sum((end[c] for c in cohort), Decimal(0)), sum(start.values(), Decimal(0))),
        "grr": (
            sum((min(end[c], start[c]) for c in cohort), Decimal(0)),
            sum(start.values(), Decimal(0)),
        ),
        "customer_retention_rate": (sum(1 for c in cohort if end[c] > 0), len(cohort)),
        "churned_customers": churns,
    }


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(segments=segment_histories(), later=st.integers(1, SPAN))
def test_retention_matches_the_segments_and_later_recomputes_match_full_ones(acme, segments, later):
    with acme.activate():
        configure_company("EUR")
        MrrSegment.objects.all().delete()
        Customer.objects.all().delete()
        StoredKPIValue.objects.all().delete()
        load_records("customers", [{"external_id": "A", "country": "FR"}])
        load_records("mrr_segments", segments)
        facts_refresh.rebuild_all(engine.build_context())
        keys = [*KEYS, "arpa"]
        _compute(FIRST, LAST, keys)
        # Periods start where the data does: none before the first segment.
        first_data_day = max(FIRST, min(segment["starts_on"] for segment in segments))
        for grain in (Grain.WEEK, Grain.MONTH, Grain.QUARTER):
            for period in Period.between(grain, first_data_day, LAST):
                expected = expected_retention(segments, period)
                for key in ("nrr", "grr", "customer_retention_rate"):
                    assert _ratio(key, grain.value, period.start) == expected[key], (key, period)
                churned = stored_values("churned_customers", grain.value)[period.start].value
                assert churned == expected["churned_customers"], period
        full = _snapshot(keys)
        first_day = FIRST + dt.timedelta(days=later)
        StoredKPIValue.objects.filter(kpi__in=keys, period_end__gt=first_day).delete()
        _compute(first_day, LAST, keys)
        assert _snapshot(keys) == full
