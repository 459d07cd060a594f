"""Payment days and customer facts: what every payment and acquisition KPI reads.

Converting payments is the costly part of revenue KPIs: each payment is placed on its day in
the company's time zone and converted at the rate of that day. It is done here once per
payment, into ``kpis_payment_day`` (one row per customer and day), instead of by every KPI
and grain. ``kpis_customer_fact`` then keeps per customer the first paid day (the first day
with MRR > 0 in the ledger, or the first successful charge, whichever is earlier) and the
revenue to date. A payment left out for want of an exchange rate is recorded as a
``DataWarning``. ``kpis_revenue_day`` sums the payment days per day and customer country and
channel, for the revenue KPIs.

All are rebuilt entirely when the ledger is (settings or exchange rates changed), and
otherwise refreshed: the payment days of the days a write touched, then the facts of the
customers whose payment days or ledger changed, and the revenue days of the refreshed days
and of the days of customers whose labels changed (recorded by triggers on the customers).
Each refresh reports what changed, so the engine recomputes only the periods that moved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction

from kpiplatform.kpis import ledger
from kpiplatform.kpis.context import SqlKPIContext, label_sql, minor_units_sql
from kpiplatform.sdk import (
    CUSTOMER_FACTS_TABLE,
    MRR_DAYS_TABLE,
    MRR_MOVEMENTS_TABLE,
    MRR_PLAN_DAYS_TABLE,
    MRR_PLAN_MOVEMENTS_TABLE,
    PAYMENT_DAYS_TABLE,
    REVENUE_DAYS_TABLE,
)

# The customers whose facts a refresh recomputes, in a temporary table of the transaction.
_SCOPE = "_customer_facts_scope"
_RATES = "_day_rates"
NO_RATE_WARNING = "payment_without_rate"
BUILD_WORK_MEM = "256MB"
DAY_INDEX = "payment_day_day"  # PaymentDay.Meta.indexes
# Customers whose labels changed, filled by triggers on the customers (migration 0005).
RELABELLED_TABLE = "kpis_relabelled_customer"
# The days whose revenue days a refresh rebuilds, in a temporary table of the transaction.
_REVENUE_SCOPE = "_revenue_days_scope"
PAYING_GRAINS = ("week", "month", "quarter", "year")


@dataclass(frozen=True)
class FactsRefresh:
    """What a refresh changed, as the first day KPIs reading it must be recomputed from
    (None: nothing changed): the customers' first paid days (the earlier of the old and the
    new day of each changed customer); their revenue to date (the first paid day of each
    customer whose revenue changed: its acquisition period moves). KPIs reading the payment
    days recompute from the refreshed days, as KPIs reading the payments do."""

    first_paid_days: dt.date | None
    revenue_to_date: dt.date | None
    # The first day of a payment day or MRR movement of a customer whose labels changed:
    # facts broken down by customer label move from there.
    relabelled: dt.date | None = None


def _day_rates_sql(context: SqlKPIContext) -> str:
    # Every calendar day from each currency's first rate to its last (or today, whichever is
    # later), with the latest rate on or before it: payments join it on equality (a hash
    # join) instead of looking a rate up per payment. Later days use the last day's rate.
    # Two rates of one currency on one day (two sources): the latest written wins.
    return f"""
        CREATE TEMPORARY TABLE {_RATES} ON COMMIT DROP AS
        WITH daily AS (
            SELECT DISTINCT ON (currency, day) currency, day, rate
            FROM data_exchange_rates WHERE deleted_at IS NULL
            ORDER BY currency, day, id DESC
        ), spans AS (
            SELECT currency, day, rate,
                   coalesce(lead(day) OVER (PARTITION BY currency ORDER BY day) - 1,
                            greatest(day, %(last_rate_day)s)) AS until
            FROM daily
        )
        SELECT currency, d::date AS day, rate
        FROM spans, generate_series(day, until, interval '1 day') d;
        ANALYZE {_RATES}
    """


def _payment_days_sql(context: SqlKPIContext, ranged: bool) -> str:
    """SELECT of payment days in the columns of :data:`_DAY_COLUMNS` and the previous charge
    day: every day, or (``ranged``) the days between first_day and end_day."""
    reporting = context.reporting_currency.replace("'", "")
    day = context.local_date_sql("p.occurred_at")
    major = f"p.amount_minor::numeric / {minor_units_sql('p.currency', reporting)}"
    in_range = (
        "AND p.occurred_at >= (%(first_day)s::timestamp AT TIME ZONE %(time_zone)s) "
        "AND p.occurred_at < (%(end_day)s::timestamp AT TIME ZONE %(time_zone)s)"
        if ranged
        else ""
    )
    charge, order = "kind = 'charge'", "kind = 'charge' AND is_order"
    charges = f"count(amount) FILTER (WHERE {charge})"
    # A whole build takes each customer's previous charge day from the rows before, in the
    # order the grouping already sorted them; a refresh leaves it to
    # _fix_previous_charge_days (days outside the range are not read here).
    previous = (
        "NULL::date"
        if ranged
        else f"max(CASE WHEN {charges} > 0 THEN day END) OVER (PARTITION BY source, "
        "customer_ref ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
    )
    previous = f"CASE WHEN {charges} > 0 THEN {previous} END"
    return f"""
        SELECT source, customer_ref, day,
               -- The table's type: a refresh compares these with the stored rows.
               coalesce(sum(CASE WHEN kind = 'refund' THEN -amount ELSE amount END), 0)
                   ::numeric(30, 12) AS net,
               coalesce(sum(amount) FILTER (WHERE {charge}), 0)::numeric(30, 12) AS charged,
               coalesce(sum(amount) FILTER (WHERE {order}), 0)::numeric(30, 12)
                   AS order_amount,
               count(amount)::int AS payments, {charges}::int AS charges,
               (count(amount) FILTER (WHERE {order}))::int AS orders,
               (count(*) FILTER (WHERE {charge}))::int AS paid,
               (count(*) - count(amount))::int AS unconverted,
               {previous} AS previous_charge_day
        FROM (
            SELECT p.source, p.customer_ref, p.kind, p.is_order, {day} AS day,
                   CASE WHEN p.currency = '{reporting}' THEN {major}
                        ELSE {major} * r.rate END AS amount
            FROM data_payments p
            LEFT JOIN {_RATES} r
                   ON r.currency = p.currency AND r.day = least({day}, %(last_rate_day)s)
            WHERE p.deleted_at IS NULL AND p.status = 'succeeded' {in_range}
        ) converted
        GROUP BY source, customer_ref, day
    """


def _warnings_sql(context: SqlKPIContext, ranged: bool) -> str:
    # One data-quality warning per payment left out for want of a rate (the payment days
    # count them in ``unconverted``).
    reporting = context.reporting_currency.replace("'", "")
    day = context.local_date_sql("p.occurred_at")
    in_range = (
        "AND p.occurred_at >= (%(first_day)s::timestamp AT TIME ZONE %(time_zone)s) "
        "AND p.occurred_at < (%(end_day)s::timestamp AT TIME ZONE %(time_zone)s)"
        if ranged
        else ""
    )
    return f"""
        INSERT INTO kpis_data_warning
            (kind, dataset, source, external_id, customer_ref, day, message, created_at)
        SELECT '{NO_RATE_WARNING}', 'payments', p.source, p.external_id, p.customer_ref, {day},
               'Payment ' || p.external_id || ' is left out of revenue: no ' || p.currency
               || ' exchange rate on or before ' || {day}, now()
        FROM data_payments p
        LEFT JOIN {_RATES} r ON r.currency = p.currency AND r.day = least({day}, %(last_rate_day)s)
        WHERE p.deleted_at IS NULL AND p.status = 'succeeded' AND p.currency <> '{reporting}'
          AND r.rate IS NULL {in_range}
    """


def _record_warnings(cursor, context: SqlKPIContext, params: dict, ranged: bool) -> None:
    days = "AND day >= %(first_day)s AND day <= %(last_day)s" if ranged else ""
    cursor.execute(
        f"DELETE FROM kpis_data_warning WHERE kind = %(kind)s {days}",
        {**params, "kind": NO_RATE_WARNING},
    )
    # Reading the payments again only when some were left out (rarely: rates are missing).
    cursor.execute(
        f"SELECT EXISTS (SELECT 1 FROM {PAYMENT_DAYS_TABLE} WHERE unconverted > 0 {days})",
        params,
    )
    if cursor.fetchone()[0]:
        cursor.execute(_warnings_sql(context, ranged), params)


def _revenue_days_sql(scoped: bool) -> str:
    # A customer's paying_<grain> day is its first charge day in that grain's period: its
    # previous charge day is before the period (a charge day's previous one is before it).
    first_charge = "d.charges > 0 AND d.customer_ref <> ''"
    paying = ", ".join(
        f"count(*) FILTER (WHERE {first_charge} AND (d.previous_charge_day IS NULL OR "
        f"d.previous_charge_day < date_trunc('{grain}', d.day::timestamp)::date))"
        for grain in PAYING_GRAINS
    )
    labels = ", ".join(label_sql(f"c.{label}") for label in ("country", "channel"))
    # The days as an array: the day index serves it whatever the planner guesses of a table.
    scope = "AND d.day = ANY(%(days)s::date[])" if scoped else ""
    return f"""
        INSERT INTO {REVENUE_DAYS_TABLE} (day, country, channel, net, charged, order_amount,
            payments, charges, orders, paying_day, paying_week, paying_month, paying_quarter,
            paying_year)
        SELECT d.day, {labels}, sum(d.net), sum(d.charged), sum(d.order_amount),
               sum(d.payments), sum(d.charges), sum(d.orders),
               count(*) FILTER (WHERE {first_charge}), {paying}
        FROM {PAYMENT_DAYS_TABLE} d
        LEFT JOIN data_customers c
               ON c.source = d.source AND c.external_id = d.customer_ref AND c.deleted_at IS NULL
        WHERE d.payments > 0 {scope}
        GROUP BY 1, 2, 3
    """


def _customer_facts_sql(scoped: bool) -> str:
    scope = (
        f"JOIN {_SCOPE} sc ON sc.source = {{alias}}.source "
        f"AND sc.customer_ref = {{alias}}.customer_ref"
        if scoped
        else ""
    )
    return f"""
        INSERT INTO {CUSTOMER_FACTS_TABLE} (source, customer_ref, first_paid_day,
                                            revenue_to_date, country, channel, campaign)
        SELECT f.source, f.customer_ref, f.first_paid_day, f.revenue,
               {", ".join(label_sql("c." + label) for label in ("country", "channel", "campaign"))}
        FROM (
            SELECT source, customer_ref, min(first_day) AS first_paid_day,
                   sum(revenue) AS revenue
            FROM (
                SELECT d.source, d.customer_ref,
                       min(d.day) FILTER (WHERE d.paid > 0) AS first_day, sum(d.net) AS revenue
                FROM {PAYMENT_DAYS_TABLE} d {scope.format(alias="d")}
                WHERE d.customer_ref <> ''
                GROUP BY d.source, d.customer_ref
                UNION ALL
                SELECT m.source, m.customer_ref, m.day, 0
                FROM {MRR_MOVEMENTS_TABLE} m {scope.format(alias="m")}
                WHERE m.kind = 'new'
            ) facts
            GROUP BY source, customer_ref
            HAVING min(first_day) IS NOT NULL
        ) f
        LEFT JOIN data_customers c
               ON c.source = f.source AND c.external_id = f.customer_ref AND c.deleted_at IS NULL
    """


def _params(context: SqlKPIContext, **extra) -> dict:
    return {"time_zone": context.time_zone, "last_rate_day": context.as_of, **extra}


def rebuild_all(context: SqlKPIContext) -> None:
    """Rebuild the payment days and the customer facts of every customer (after the ledger)."""
    with transaction.atomic(), connection.cursor() as cursor:
        # Sorting every payment by customer and day fits in memory instead of spilling; the
        # sorted grouping then feeds the previous-charge-day window without another sort
        # (the planner cannot estimate the number of local days and would hash, then sort).
        cursor.execute("SELECT set_config('work_mem', %s, true)", [BUILD_WORK_MEM])
        cursor.execute("SELECT set_config('enable_hashagg', 'off', true)")
        cursor.execute(
            f"TRUNCATE {PAYMENT_DAYS_TABLE}, {CUSTOMER_FACTS_TABLE}, {REVENUE_DAYS_TABLE}"
        )
        # Every customer's labels are read anew. DELETE, not TRUNCATE, whose lock would hold
        # up every write of customers (their triggers) until this build commits; a label
        # written meanwhile stays recorded for the next refresh.
        cursor.execute(f"DELETE FROM {RELABELLED_TABLE}")
        cursor.execute(_day_rates_sql(context), _params(context))
        # As for the ledger: into an empty table, build the indexes afterwards (rows arrive
        # by customer, so inserting each into the index by day would be random writes).
        cursor.execute(
            f"ALTER TABLE {PAYMENT_DAYS_TABLE} DROP CONSTRAINT {PAYMENT_DAYS_TABLE}_pkey; "
            f"DROP INDEX {DAY_INDEX}"
        )
        cursor.execute(
            f"INSERT INTO {PAYMENT_DAYS_TABLE} ({_DAY_COLUMNS}, previous_charge_day) "
            + _payment_days_sql(context, ranged=False),
            _params(context),
        )
        cursor.execute(
            f"ALTER TABLE {PAYMENT_DAYS_TABLE} ADD CONSTRAINT {PAYMENT_DAYS_TABLE}_pkey "
            f"PRIMARY KEY (source, customer_ref, day); "
            f"CREATE INDEX {DAY_INDEX} ON {PAYMENT_DAYS_TABLE} (day)"
        )
        _record_warnings(cursor, context, _params(context), ranged=False)
        cursor.execute(f"DROP TABLE {_RATES}")
        cursor.execute("SELECT set_config('enable_hashagg', 'on', true)")
        cursor.execute(f"ANALYZE {PAYMENT_DAYS_TABLE}")
        cursor.execute(_customer_facts_sql(scoped=False))
        cursor.execute(_revenue_days_sql(scoped=False))
        cursor.execute(f"ANALYZE {CUSTOMER_FACTS_TABLE}, {REVENUE_DAYS_TABLE}")
        # The ledger's day sums too: the MRR days are labelled as of the same customers.
        ledger.rebuild_day_sums(cursor)
        ledger.rebuild_day_sums(cursor, by_plan=True)


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


def refresh(
    context: SqlKPIContext,
    payment_days: tuple[dt.date, dt.date] | None,
    customers: Iterable[tuple[str, str]] = (),
) -> FactsRefresh:
    """Refresh the payment days of the local days ``payment_days`` (first, last; None: none),
    the facts of their customers and of ``customers`` (whose ledger changed), and the revenue
    days of those days and of the customers whose labels changed."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {_SCOPE} (source varchar(64), customer_ref varchar(255), "
            "PRIMARY KEY (source, customer_ref)) ON COMMIT DROP; "
            f"CREATE TEMPORARY TABLE {_REVENUE_SCOPE} (day date PRIMARY KEY) ON COMMIT DROP"
        )
        customers = list(customers)
        if customers:
            cursor.execute(
                f"INSERT INTO {_SCOPE} SELECT * FROM unnest(%s::text[], %s::text[]) "
                "ON CONFLICT DO NOTHING",
                [[source for source, _ in customers], [ref for _, ref in customers]],
            )
        if payment_days is not None:
            _refresh_payment_days(cursor, context, *payment_days)
        relabelled = _take_relabelled(cursor)
        cursor.execute(f"ANALYZE {_SCOPE}")
        first_paid, revenue = _refresh_customer_facts(cursor)
        _refresh_revenue_days(cursor)
        cursor.execute(f"DROP TABLE {_SCOPE}, {_REVENUE_SCOPE}")
    return FactsRefresh(first_paid, revenue, relabelled)


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
    cursor.execute(f"INSERT INTO {_SCOPE} SELECT * FROM _relabelled ON CONFLICT DO NOTHING")
    cursor.execute(
        f"""
        INSERT INTO {_REVENUE_SCOPE}
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


def _refresh_revenue_days(cursor) -> None:
    cursor.execute(f"SELECT array_agg(day) FROM {_REVENUE_SCOPE}")
    days = cursor.fetchone()[0]
    if not days:
        return
    cursor.execute(
        f"DELETE FROM {REVENUE_DAYS_TABLE} WHERE day = ANY(%(days)s::date[])", {"days": days}
    )
    cursor.execute(_revenue_days_sql(scoped=True), {"days": days})


# The columns a write can change (previous_charge_day follows from them).
_DAY_COLUMNS = (
    "source, customer_ref, day, net, charged, order_amount, payments, charges, orders, paid, "
    "unconverted"
)


def _refresh_payment_days(cursor, context: SqlKPIContext, first: dt.date, last: dt.date):
    # The days as they should be, beside the days as they are: only the rows that differ are
    # rewritten (a day's payments are mostly unchanged), and their customers join the scope.
    days = "day >= %(first_day)s AND day <= %(last_day)s"
    params = _params(context, first_day=first, last_day=last, end_day=last + dt.timedelta(1))
    cursor.execute(_day_rates_sql(context), params)
    cursor.execute(
        "CREATE TEMPORARY TABLE _new_payment_days ON COMMIT DROP AS "
        + _payment_days_sql(context, ranged=True),
        params,
    )
    # Rows of a key on one side only, or with other values (hash joins on the key).
    key = "a.source = b.source AND a.customer_ref = b.customer_ref AND a.day = b.day"
    values = _DAY_COLUMNS.split(", ")[3:]
    differ = (
        f"b.day IS NULL OR ({', '.join('a.' + c for c in values)}) IS DISTINCT FROM "
        f"({', '.join('b.' + c for c in values)})"
    )
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE _changed_payment_days ON COMMIT DROP AS
        -- Read once: a day's rows lie all over the table (built in customer order).
        WITH stored AS MATERIALIZED (
            SELECT {_DAY_COLUMNS} FROM {PAYMENT_DAYS_TABLE} WHERE {days}
        )
        SELECT false AS written, a.* FROM stored a
        LEFT JOIN _new_payment_days b ON {key} WHERE {differ}
        UNION ALL
        SELECT true, {", ".join("a." + c for c in _DAY_COLUMNS.split(", "))}
        FROM _new_payment_days a LEFT JOIN stored b ON {key} WHERE {differ}
        """,
        params,
    )
    cursor.execute(
        f"DELETE FROM {PAYMENT_DAYS_TABLE} d USING _changed_payment_days c "
        "WHERE NOT c.written AND d.source = c.source AND d.customer_ref = c.customer_ref "
        "AND d.day = c.day"
    )
    # Previous charge days follow below, for the customers of the changed rows.
    cursor.execute(
        f"INSERT INTO {PAYMENT_DAYS_TABLE} ({_DAY_COLUMNS}, previous_charge_day) "
        f"SELECT {_DAY_COLUMNS}, NULL FROM _changed_payment_days WHERE written"
    )
    cursor.execute(
        f"INSERT INTO {_REVENUE_SCOPE} SELECT DISTINCT day FROM _changed_payment_days "
        "ON CONFLICT DO NOTHING"
    )
    _fix_previous_charge_days(cursor, params)
    _record_warnings(cursor, context, params, ranged=True)
    cursor.execute(
        f"INSERT INTO {_SCOPE} SELECT DISTINCT source, customer_ref FROM _changed_payment_days "
        "WHERE customer_ref <> '' ON CONFLICT DO NOTHING"
    )
    cursor.execute(f"DROP TABLE _new_payment_days, _changed_payment_days, {_RATES}")


def _fix_previous_charge_days(cursor, params: dict) -> None:
    # The customers whose days changed: their charge days from the first refreshed day on
    # may have another previous charge day (the rewritten ones have none yet).
    cursor.execute(
        "CREATE TEMPORARY TABLE _charging ON COMMIT DROP AS "
        "SELECT DISTINCT source, customer_ref FROM _changed_payment_days"
    )
    cursor.execute("ANALYZE _charging")
    # The days whose previous charge days moved count other paying customers: their revenue
    # days are rebuilt too.
    cursor.execute(
        f"""
        WITH fixed AS (
        UPDATE {PAYMENT_DAYS_TABLE} d SET previous_charge_day = x.previous
        FROM (
            -- Each customer's charge days from the first refreshed day on; the first of them
            -- looks its previous charge day up in the key index.
            SELECT p.source, p.customer_ref, p.day,
                   coalesce(
                       lag(p.day) OVER (PARTITION BY p.source, p.customer_ref ORDER BY p.day),
                       (SELECT max(b.day) FROM {PAYMENT_DAYS_TABLE} b
                        WHERE b.source = p.source AND b.customer_ref = p.customer_ref
                          AND b.charges > 0 AND b.day < %(first_day)s)
                   ) AS previous
            FROM {PAYMENT_DAYS_TABLE} p
            JOIN _charging c ON c.source = p.source AND c.customer_ref = p.customer_ref
            WHERE p.charges > 0 AND p.day >= %(first_day)s
        ) x
        WHERE d.source = x.source AND d.customer_ref = x.customer_ref AND d.day = x.day
          AND d.previous_charge_day IS DISTINCT FROM x.previous
        RETURNING d.day
        )
        INSERT INTO {_REVENUE_SCOPE} SELECT DISTINCT day FROM fixed ON CONFLICT DO NOTHING
        """,
        params,
    )
    cursor.execute("DROP TABLE _charging")


def _refresh_customer_facts(cursor) -> tuple[dt.date | None, dt.date | None]:
    # Recompute the scope's facts; return the first day of the changed first paid days and
    # the first paid day of the changed revenues.
    columns = "source, customer_ref, first_paid_day, revenue_to_date"
    cursor.execute(
        f"CREATE TEMPORARY TABLE _old_customer_facts ON COMMIT DROP AS "
        f"SELECT {', '.join('f.' + c for c in columns.split(', '))} "
        f"FROM {CUSTOMER_FACTS_TABLE} f JOIN {_SCOPE} sc "
        "ON sc.source = f.source AND sc.customer_ref = f.customer_ref"
    )
    cursor.execute(
        f"DELETE FROM {CUSTOMER_FACTS_TABLE} f USING {_SCOPE} sc "
        "WHERE sc.source = f.source AND sc.customer_ref = f.customer_ref"
    )
    cursor.execute(_customer_facts_sql(scoped=True))
    new = (
        f"SELECT {', '.join('f.' + c for c in columns.split(', '))} "
        f"FROM {CUSTOMER_FACTS_TABLE} f JOIN {_SCOPE} sc "
        "ON sc.source = f.source AND sc.customer_ref = f.customer_ref"
    )
    cursor.execute(
        f"""
        SELECT min(first_paid_day) FILTER (WHERE n = 1), min(first_paid_day) FROM (
            SELECT *, count(*) OVER (PARTITION BY source, customer_ref, first_paid_day) AS n
            FROM (
                (SELECT {columns} FROM _old_customer_facts EXCEPT ALL {new})
                UNION ALL
                ({new} EXCEPT ALL SELECT {columns} FROM _old_customer_facts)
            ) changed
        ) counted
        """
    )
    first_paid, revenue = cursor.fetchone()
    cursor.execute("DROP TABLE _old_customer_facts")
    return first_paid, revenue
