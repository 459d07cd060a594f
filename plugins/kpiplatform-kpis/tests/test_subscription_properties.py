"""Property: for any segment history, movements add up to the change of MRR, at every grain,
and MRR is what the segments say on the last day of every period."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpiplatform.data.models import MrrSegment
from kpiplatform.facts import refresh as facts_refresh
from kpiplatform.kpis import engine
from kpiplatform.sdk import Grain, Period
from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import configure_company, stored_values

FIRST = dt.date(2025, 1, 1)
LAST = dt.date(2025, 8, 31)
SPAN = (LAST - FIRST).days


@st.composite
def segment_histories(draw) -> list[dict]:
    segments = []
    for customer in draw(st.lists(st.sampled_from("ABCDEF"), min_size=1, max_size=6)):
        start = draw(st.integers(0, SPAN - 1))
        length = draw(st.one_of(st.none(), st.integers(1, 150)))
        segments.append(
            {
                "customer_ref": customer,
                "starts_on": FIRST + dt.timedelta(days=start),
                "ends_on": None if length is None else FIRST + dt.timedelta(days=start + length),
                "mrr_minor": draw(st.integers(1, 50_000)),
                "currency": "EUR",
            }
        )
    return segments


def mrr_on(segments: list[dict], day: dt.date) -> Decimal:
    return sum(
        (
            Decimal(s["mrr_minor"]) / 100
            for s in segments
            if s["starts_on"] <= day and (s["ends_on"] is None or day < s["ends_on"])
        ),
        Decimal(0),
    )


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(segments=segment_histories())
def test_movements_add_up_to_the_change_of_mrr_at_every_grain(acme, segments):
    with acme.activate():
        configure_company("EUR")
        MrrSegment.objects.all().delete()
        load_records("mrr_segments", segments)
        context = engine.build_context()
        facts_refresh.rebuild_all(context)
        report = engine.compute_kpis(
            keys=["mrr", "net_new_mrr"], first_day=FIRST, last_day=LAST, context=context
        )
        assert not report.failed
        # Periods start where the data does: none before the first segment.
        first_data_day = min(segment["starts_on"] for segment in segments)
        for grain in Grain:
            mrr = stored_values("mrr", grain)
            net_new = stored_values("net_new_mrr", grain)
            assert min(mrr) == Period.containing(grain, first_data_day).start
            previous_mrr = Decimal(0)
            for period in Period.between(grain, first_data_day, LAST):
                end_mrr = mrr[period.start].value
                assert net_new[period.start].value == end_mrr - previous_mrr, (grain, period)
                # A period reaching past the last day is measured up to it.
                last_day = min(period.last_day, LAST)
                assert end_mrr == mrr_on(segments, last_day), (grain, period)
                previous_mrr = end_mrr
