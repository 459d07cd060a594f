"""Payment days and revenue days: what every payment KPI reads.

Converting payments is the costly part of revenue KPIs: each payment is placed on its day in
the company's time zone and converted at the rate of that day. It is done here once per
payment, into ``kpis_payment_day`` (one row per customer and day), instead of by every KPI
and grain. A payment left out for want of an exchange rate is recorded as a ``DataWarning``.
``kpis_revenue_day`` sums the payment days per day and customer country and channel, for the
revenue KPIs.

Both are rebuilt entirely (:func:`rebuild`) or refreshed for the days a write touched
(:func:`refresh_days`), by the pipeline in :mod:`kpiplatform.facts.refresh`.
"""

from __future__ import annotations

import datetime as dt

from kpiplatform.facts.customer_facts import CUSTOMER_SCOPE
from kpiplatform.facts.labels import label_sql, labels_join_sql
from kpiplatform.facts.money import (
    DAY_RATES,
    create_day_rates,
    day_rate_join_sql,
    literal,
    to_reporting_sql,
)
from kpiplatform.sdk import PAYMENT_DAYS_TABLE, REVENUE_DAYS_TABLE, KPIContext

NO_RATE_WARNING = "payment_without_rate"
BUILD_WORK_MEM = "256MB"
DAY_INDEX = "payment_day_day"  # PaymentDay.Meta.indexes
# The days whose revenue days a refresh rebuilds, in a temporary table of the transaction.
REVENUE_SCOPE = "_revenue_days_scope"
PAYING_GRAINS = ("week", "month", "quarter", "year")


def _payment_days_sql(context: KPIContext, ranged: bool) -> str:
    """SELECT of payment days in the columns of :data:`_DAY_COLUMNS` and the previous charge
    day: every day, or (``ranged``) the days between first_day and end_day."""
    day = context.local_date_sql("p.occurred_at")
    amount = to_reporting_sql("p.amount_minor", "p.currency", context.reporting_currency, "r.rate")
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
                   {amount} AS amount
            FROM data_payments p
            {day_rate_join_sql("r", "p.currency", day)}
            WHERE p.deleted_at IS NULL AND p.status = 'succeeded' {in_range}
        ) converted
        GROUP BY source, customer_ref, day
    """


def _warnings_sql(context: KPIContext, ranged: bool) -> str:
    # One data-quality warning per payment left out for want of a rate (the payment days
    # count them in ``unconverted``).
    reporting = literal(context.reporting_currency)
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
        SELECT {literal(NO_RATE_WARNING)}, 'payments', p.source, p.external_id, p.customer_ref,
               {day},
               'Payment ' || p.external_id || ' is left out of revenue: no ' || p.currency
               || ' exchange rate on or before ' || {day}, now()
        FROM data_payments p
        {day_rate_join_sql("r", "p.currency", day)}
        WHERE p.deleted_at IS NULL AND p.status = 'succeeded' AND p.currency <> {reporting}
          AND r.rate IS NULL {in_range}
    """


def _record_warnings(cursor, context: KPIContext, params: dict, ranged: bool) -> None:
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
        {labels_join_sql("d")}
        WHERE d.payments > 0 {scope}
        GROUP BY 1, 2, 3
    """


def query_params(context: KPIContext, **extra) -> dict:
    return {"time_zone": context.time_zone, **extra}


def rebuild(cursor, context: KPIContext) -> None:
    """Rebuild every payment day (in the caller's transaction; the revenue days follow with
    :func:`rebuild_revenue_days` once the customer facts are built)."""
    # Sorting every payment by customer and day fits in memory instead of spilling; the
    # sorted grouping then feeds the previous-charge-day window without another sort
    # (the planner cannot estimate the number of local days and would hash, then sort).
    cursor.execute("SELECT set_config('work_mem', %s, true)", [BUILD_WORK_MEM])
    cursor.execute("SELECT set_config('enable_hashagg', 'off', true)")
    cursor.execute(f"TRUNCATE {PAYMENT_DAYS_TABLE}, {REVENUE_DAYS_TABLE}")
    params = query_params(context, rates_until=create_day_rates(cursor, context.as_of))
    # As for the ledger: into an empty table, build the indexes afterwards (rows arrive
    # by customer, so inserting each into the index by day would be random writes).
    cursor.execute(
        f"ALTER TABLE {PAYMENT_DAYS_TABLE} DROP CONSTRAINT {PAYMENT_DAYS_TABLE}_pkey; "
        f"DROP INDEX {DAY_INDEX}"
    )
    cursor.execute(
        f"INSERT INTO {PAYMENT_DAYS_TABLE} ({_DAY_COLUMNS}, previous_charge_day) "
        + _payment_days_sql(context, ranged=False),
        params,
    )
    cursor.execute(
        f"ALTER TABLE {PAYMENT_DAYS_TABLE} ADD CONSTRAINT {PAYMENT_DAYS_TABLE}_pkey "
        f"PRIMARY KEY (source, customer_ref, day); "
        f"CREATE INDEX {DAY_INDEX} ON {PAYMENT_DAYS_TABLE} (day)"
    )
    _record_warnings(cursor, context, params, ranged=False)
    cursor.execute(f"DROP TABLE {DAY_RATES}")
    cursor.execute("SELECT set_config('enable_hashagg', 'on', true)")
    cursor.execute(f"ANALYZE {PAYMENT_DAYS_TABLE}")


def rebuild_revenue_days(cursor) -> None:
    """Rebuild every revenue day from the payment days."""
    cursor.execute(_revenue_days_sql(scoped=False))
    cursor.execute(f"ANALYZE {REVENUE_DAYS_TABLE}")


def refresh_revenue_days(cursor) -> None:
    cursor.execute(f"SELECT array_agg(day) FROM {REVENUE_SCOPE}")
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


def refresh_days(cursor, context: KPIContext, first: dt.date, last: dt.date) -> None:
    """Refresh the payment days of the local days ``first`` to ``last``: their customers
    join the customer scope, and the days whose rows changed the revenue scope."""
    # The days as they should be, beside the days as they are: only the rows that differ are
    # rewritten (a day's payments are mostly unchanged), and their customers join the scope.
    days = "day >= %(first_day)s AND day <= %(last_day)s"
    params = query_params(
        context,
        first_day=first,
        last_day=last,
        end_day=last + dt.timedelta(1),
        rates_until=create_day_rates(cursor, context.as_of),
    )
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
        f"INSERT INTO {REVENUE_SCOPE} SELECT DISTINCT day FROM _changed_payment_days "
        "ON CONFLICT DO NOTHING"
    )
    _fix_previous_charge_days(cursor, params)
    _record_warnings(cursor, context, params, ranged=True)
    cursor.execute(
        f"INSERT INTO {CUSTOMER_SCOPE} SELECT DISTINCT source, customer_ref "
        "FROM _changed_payment_days WHERE customer_ref <> '' ON CONFLICT DO NOTHING"
    )
    cursor.execute(f"DROP TABLE _new_payment_days, _changed_payment_days, {DAY_RATES}")


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
        INSERT INTO {REVENUE_SCOPE} SELECT DISTINCT day FROM fixed ON CONFLICT DO NOTHING
        """,
        params,
    )
    cursor.execute("DROP TABLE _charging")
