"""The refresh pipeline: derived facts brought up to date with the canonical data.

Order matters, each step reads the ones before:

1. the MRR ledgers (by customer and by customer and plan) of the customers whose segments
   changed (:mod:`.ledger`), with the MRR day sums of the days whose movements changed;
2. the payment days of the days the write touched (:mod:`.payment_days`);
3. the customers whose labels changed (recorded by triggers on the customers): their
   payment days join the revenue days to rebuild, the MRR days of their movements are
   rebuilt;
   (a customer's labels come from the lead it came from when it has no channel: leads
   written relabel their customers too, :mod:`.identity`);
4. the customer facts of every customer touched above (:mod:`.customer_facts`), and the
   first day of the leads those customers may have converted (``LEAD_CUSTOMERS``);
5. the revenue days of the days touched above.

:func:`refresh` does it for one batch of changes and says from which day each dataset and
derived fact changed, so the KPI engine recomputes only what moved; :func:`rebuild_all` does
everything from scratch (settings or exchange rates changed, first build, tables emptied by
a crash). A new derivation (e.g. from a connector's records) is one more step here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import connection, transaction

from kpiplatform.facts import customer_facts, identity, ledger, payment_days
from kpiplatform.facts.customer_facts import CUSTOMER_SCOPE
from kpiplatform.facts.models import RelabelledCustomer
from kpiplatform.facts.payment_days import REVENUE_SCOPE
from kpiplatform.sdk import (
    FIRST_PAID_DAYS,
    LEAD_CUSTOMERS,
    MRR_DAYS_TABLE,
    MRR_MOVEMENTS_TABLE,
    MRR_PLAN_DAYS_TABLE,
    MRR_PLAN_MOVEMENTS_TABLE,
    PAYMENT_DAYS_TABLE,
    REVENUE_DAYS_TABLE,
    REVENUE_TO_DATE,
    DatasetChanges,
    KPIContext,
)

# Datasets whose change invalidates every derived money value (conversion), hence every KPI.
EVERYTHING_DATASETS = frozenset({"exchange_rates"})
RELABELLED_TABLE = RelabelledCustomer._meta.db_table


def rebuild_all(context: KPIContext) -> None:
    """Rebuild every derived fact of the current company from the canonical data."""
    ledger.rebuild_all(context)
    _rebuild_after_ledger(context)


def _rebuild_after_ledger(context: KPIContext) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        # Every customer's labels are read anew. DELETE, not TRUNCATE, whose lock would hold
        # up every write of customers (their triggers) until this build commits; a label
        # written meanwhile stays recorded for the next refresh.
        cursor.execute(f"DELETE FROM {RELABELLED_TABLE}")
        payment_days.rebuild(cursor, context)
        customer_facts.rebuild(cursor)
        payment_days.rebuild_revenue_days(cursor)
        # The ledger's day sums too: the MRR days are labelled as of the same customers.
        ledger.rebuild_day_sums(cursor)
        ledger.rebuild_day_sums(cursor, by_plan=True)
        # Fresh statistics: the KPI queries plan on the rebuilt ledger's real size.
        cursor.execute(f"ANALYZE {MRR_MOVEMENTS_TABLE}")


def refresh(context: KPIContext, changes: DatasetChanges) -> dict[str, dt.date | None] | None:
    """Refresh what ``changes`` touch; return the first day from which each changed dataset
    and derived fact (``FIRST_PAID_DAYS``, ``REVENUE_TO_DATE``, ``LEAD_CUSTOMERS``) differs, or
    None when the
    facts were rebuilt entirely (every KPI and period may have moved)."""
    # The writer reports the days a change may fall on in any time zone (the UTC days of
    # timestamps, widened by a day on each side): they are the company's days to refresh.
    changed: dict[str, dt.date | None] = {
        name: first for name, (first, _) in changes.ranges.items()
    }
    if set(changed) & EVERYTHING_DATASETS or lost_after_crash(changes.ranges.get("payments")):
        rebuild_all(context)
        return None
    rebuilt_customers: tuple[tuple[str, str], ...] = ()
    if "mrr_segments" in changed:
        build = ledger.rebuild_changed(context)
        if build.customers is None:  # rebuilt entirely (first build, or lost after a crash)
            _rebuild_after_ledger(context)
            return None
        if build.first_changed_day is not None:
            changed["mrr_segments"] = min(changed["mrr_segments"], build.first_changed_day)
        rebuilt_customers = build.rebuilt
    days = changes.ranges.get("payments")
    # Leads relabel the customers they match (their channel and campaign).
    if days or rebuilt_customers or "customers" in changed or "leads" in changed:
        first_paid, revenue, relabelled, leads = _refresh_after_ledger(
            context, days, rebuilt_customers
        )
        for name, day in (
            (FIRST_PAID_DAYS, first_paid),
            (REVENUE_TO_DATE, revenue),
            # A customer's new labels move the breakdowns of all its days, before the day
            # the writer reports for the customer (its creation) too.
            ("customers", relabelled),
            # A customer's first payment converts the leads it matches, created long before.
            (LEAD_CUSTOMERS, leads),
        ):
            if day is not None:
                changed[name] = min(day, changed.get(name, day))
    return changed


def _refresh_after_ledger(
    context: KPIContext,
    days: tuple[dt.date, dt.date] | None,
    customers: Iterable[tuple[str, str]],
) -> tuple[dt.date | None, dt.date | None, dt.date | None, dt.date | None]:
    """Refresh the payment days of the local days ``days`` (first, last; None: none), the
    facts of their customers and of ``customers`` (whose ledger changed), and the revenue
    days of those days and of the customers whose labels changed. Return the first day of
    the changed first paid days, the first paid day of the customers whose revenue changed
    (their acquisition period moves), the first day of the relabelled customers' payment
    days and movements, and the first day of the leads matching any of these customers."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {CUSTOMER_SCOPE} (source varchar(64), "
            "customer_ref varchar(255), PRIMARY KEY (source, customer_ref)) ON COMMIT DROP; "
            f"CREATE TEMPORARY TABLE {REVENUE_SCOPE} (day date PRIMARY KEY) ON COMMIT DROP"
        )
        customers = list(customers)
        if customers:
            cursor.execute(
                f"INSERT INTO {CUSTOMER_SCOPE} SELECT * FROM unnest(%s::text[], %s::text[]) "
                "ON CONFLICT DO NOTHING",
                [[source for source, _ in customers], [ref for _, ref in customers]],
            )
        if days is not None:
            payment_days.refresh_days(cursor, context, *days)
        relabelled = _take_relabelled(cursor)
        cursor.execute(f"ANALYZE {CUSTOMER_SCOPE}")
        first_paid, revenue = customer_facts.refresh(cursor)
        payment_days.refresh_revenue_days(cursor)
        leads = identity.first_changed_lead_day(cursor)
        cursor.execute(f"DROP TABLE {CUSTOMER_SCOPE}, {REVENUE_SCOPE}")
    return first_paid, revenue, relabelled, leads


def _take_relabelled(cursor) -> dt.date | None:
    # The relabelled customers' payment days join the revenue days to rebuild, and the MRR
    # days of their movements are rebuilt; return the first day of their payment days and
    # movements. Taken in this transaction, like the
    # ledger's dirty customers: a failed refresh gives them back.
    cursor.execute(
        "CREATE TEMPORARY TABLE _relabelled (source varchar(64), customer_ref varchar(255)) "
        "ON COMMIT DROP"
    )
    cursor.execute(
        f"WITH taken AS (DELETE FROM {RELABELLED_TABLE} RETURNING source, customer_ref) "
        "INSERT INTO _relabelled SELECT source, customer_ref FROM taken"
    )
    if cursor.rowcount == 0:
        cursor.execute("DROP TABLE _relabelled")
        return None
    cursor.execute("ANALYZE _relabelled")
    # Their customer facts carry the labels too.
    cursor.execute(f"INSERT INTO {CUSTOMER_SCOPE} SELECT * FROM _relabelled ON CONFLICT DO NOTHING")
    cursor.execute(
        f"""
        INSERT INTO {REVENUE_SCOPE}
        SELECT DISTINCT d.day FROM {PAYMENT_DAYS_TABLE} d
        JOIN _relabelled r ON r.source = d.source AND r.customer_ref = d.customer_ref
        ON CONFLICT DO NOTHING
        """
    )
    cursor.execute(
        f"SELECT array_agg(DISTINCT m.day) FROM {MRR_MOVEMENTS_TABLE} m "
        "JOIN _relabelled r ON r.source = m.source AND r.customer_ref = m.customer_ref"
    )
    movement_days = cursor.fetchone()[0]
    if movement_days:
        ledger.rebuild_day_sums(cursor, movement_days)
    cursor.execute(
        f"""
        SELECT least(
            (SELECT min(d.day) FROM {PAYMENT_DAYS_TABLE} d
             JOIN _relabelled r ON r.source = d.source AND r.customer_ref = d.customer_ref),
            (SELECT min(m.day) FROM {MRR_MOVEMENTS_TABLE} m
             JOIN _relabelled r ON r.source = m.source AND r.customer_ref = m.customer_ref))
        """
    )
    first = cursor.fetchone()[0]
    cursor.execute("DROP TABLE _relabelled")
    return first


def lost_after_crash(being_written: tuple[dt.date, dt.date] | None = None) -> bool:
    """The payment and revenue days are UNLOGGED: after a crash PostgreSQL empties them.
    They are lost when there are no payment days while successful payments exist outside
    ``being_written`` (UTC days of payments that are written now and not yet refreshed: a
    company's first payments), or no revenue days while payment days count payments, or no
    MRR (plan) days while the ledger (by plan) has movements (also right after the
    migrations that added them)."""
    outside = ""
    params: list = []
    if being_written is not None:
        outside = "AND NOT (occurred_at >= %s AND occurred_at < %s)"
        first, last = being_written
        params = [
            dt.datetime.combine(first, dt.time(), dt.UTC) - dt.timedelta(days=1),
            dt.datetime.combine(last, dt.time(), dt.UTC) + dt.timedelta(days=2),
        ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (NOT EXISTS (SELECT 1 FROM {PAYMENT_DAYS_TABLE}) AND EXISTS (SELECT 1 FROM "
            f"data_payments WHERE deleted_at IS NULL AND status = 'succeeded' {outside})) OR "
            f"(NOT EXISTS (SELECT 1 FROM {REVENUE_DAYS_TABLE}) AND EXISTS (SELECT 1 FROM "
            f"{PAYMENT_DAYS_TABLE} WHERE payments > 0)) OR "
            f"(NOT EXISTS (SELECT 1 FROM {MRR_DAYS_TABLE}) AND EXISTS (SELECT 1 FROM "
            f"{MRR_MOVEMENTS_TABLE})) OR "
            f"(NOT EXISTS (SELECT 1 FROM {MRR_PLAN_DAYS_TABLE}) AND EXISTS (SELECT 1 FROM "
            f"{MRR_PLAN_MOVEMENTS_TABLE}))",
            params,
        )
        return cursor.fetchone()[0]
