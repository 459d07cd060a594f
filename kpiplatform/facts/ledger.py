"""The MRR movements ledger: one row per change of a customer's MRR (docs/kpis.md).

Built in SQL from the MRR segments: segment boundaries become per-customer daily deltas, a
running sum gives the MRR after each change, and each change day is classified. Each segment
is converted at the exchange rate of its first day, so rate moves never create movements; a
segment with no rate is left out and recorded as a :class:`DataWarning`.

The ledger is rebuilt for the customers whose segments changed since the last build (the
dirty customers the segment triggers record; deletions are tombstones), or entirely.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from kpiplatform.facts.labels import label_sql, labels_join_sql
from kpiplatform.facts.models import LedgerDirtyCustomer, LedgerState
from kpiplatform.facts.money import (
    DAY_RATES,
    create_day_rates,
    day_rate_join_sql,
    literal,
    to_reporting_sql,
)
from kpiplatform.sdk import (
    MRR_DAYS_TABLE,
    MRR_MOVEMENTS_TABLE,
    MRR_PLAN_DAYS_TABLE,
    MRR_PLAN_MOVEMENTS_TABLE,
    KPIContext,
)

NO_RATE_WARNING = "mrr_segment_without_rate"

# The customers a partial rebuild works on, in a temporary table named below.
_SCOPE = "_ledger_scope"
# Customers whose segments changed since the last build, filled by triggers on the segments
# (migration 0003): rows appear when the writes commit.
DIRTY_TABLE = LedgerDirtyCustomer._meta.db_table
MOVEMENTS_TABLE = MRR_MOVEMENTS_TABLE
PLAN_MOVEMENTS_TABLE = MRR_PLAN_MOVEMENTS_TABLE


@dataclass(frozen=True)
class LedgerBuild:
    """What a rebuild did: how many customers it covered (None: all, and then any day may
    have changed) and the first day whose movements differ from before (None when none
    changed), which bounds the KPI recompute."""

    customers: int | None
    first_changed_day: dt.date | None
    # The (source, customer_ref) rebuilt by a partial build: their customer facts follow.
    rebuilt: tuple[tuple[str, str], ...] = ()


def _segments_sql(context: KPIContext, scoped: bool, key: str) -> str:
    # Only the columns the ledger reads. Each segment is converted at the rate of its first
    # day (as ``money_sql``), from the day rates table of the build's transaction.
    mrr = to_reporting_sql("s.mrr_minor", "s.currency", context.reporting_currency, "r.rate")
    scope = (
        f"JOIN {_SCOPE} sc ON sc.source = s.source AND sc.customer_ref = s.customer_ref"
        if scoped
        else ""
    )
    columns = ", ".join("s." + column for column in key.split(", "))
    return f"""
        SELECT {columns}, s.starts_on, s.ends_on, {mrr} AS mrr
        FROM data_mrr_segments s {scope}
        {day_rate_join_sql("r", "s.currency", "s.starts_on")}
        WHERE s.deleted_at IS NULL AND s.mrr_minor <> 0
    """


def movements_sql(context: KPIContext, scoped: bool = False, by_plan: bool = False) -> str:
    """SELECT of the ledger's rows (source, customer_ref, day, kind, amount, mrr_before,
    mrr_after, previous_day, next_day) from the segments, for every customer or for those in
    the scope table. It reads the day rates table (:func:`create_day_rates`) and takes its
    ``rates_until`` parameter.

    ``by_plan`` classifies the MRR of each customer *and plan* instead (rows also carry
    ``plan_ref``): the plan ledger, where moving a customer to another plan churns the old
    plan and starts the new one.
    """
    key = "source, customer_ref, plan_ref" if by_plan else "source, customer_ref"
    # The customer ledger's rows know their neighbours (the plan ledger's keep them to
    # themselves); a change with no previous one is the first.
    next_day = "" if by_plan else "lead(day) OVER w AS next_day,"
    neighbour_columns = "" if by_plan else ", previous_day, next_day"
    # Grouped and ordered by bytes: the same groups as the columns' collation (equality is
    # bytewise either way), and the sort compares abbreviated keys instead of calling the
    # locale's comparison (4 % of a full build).
    bytewise = ", ".join(f'{column} COLLATE "C" AS {column}' for column in key.split(", "))
    return f"""
        WITH seg AS ({_segments_sql(context, scoped, key)}),
        daily AS (
            SELECT {key}, day, sum(delta) AS delta
            FROM (
                SELECT {bytewise}, starts_on AS day, mrr AS delta
                FROM seg WHERE mrr IS NOT NULL
                UNION ALL
                SELECT {bytewise}, ends_on, -mrr
                FROM seg WHERE mrr IS NOT NULL AND ends_on IS NOT NULL
            ) boundaries
            GROUP BY {key}, day
            HAVING sum(delta) <> 0
        ),
        running AS (
            SELECT {key}, day, delta, lag(day) OVER w AS previous_day, {next_day}
                   sum(delta) OVER w AS mrr_after
            FROM daily
            WINDOW w AS (PARTITION BY {key} ORDER BY day)
        )
        SELECT {key}, day,
               CASE
                   -- The first change of a customer starts from nothing: new business;
                   -- any later start from zero means the customer had MRR before.
                   WHEN mrr_after - delta = 0 AND previous_day IS NULL THEN 'new'
                   WHEN mrr_after - delta = 0 THEN 'reactivation'
                   WHEN mrr_after = 0 THEN 'churn'
                   WHEN delta > 0 THEN 'expansion'
                   ELSE 'contraction'
               END AS kind,
               delta AS amount, mrr_after - delta AS mrr_before, mrr_after{neighbour_columns}
        FROM running
    """


def _warnings_sql(context: KPIContext, scoped: bool) -> str:
    # A segment has no rate when its currency has none on or before its first day: a join
    # to each currency's first rate, instead of converting every foreign segment again.
    reporting = literal(context.reporting_currency)
    scope = (
        f"JOIN {_SCOPE} sc ON sc.source = s.source AND sc.customer_ref = s.customer_ref"
        if scoped
        else ""
    )
    return f"""
        INSERT INTO kpis_data_warning
            (kind, dataset, source, external_id, customer_ref, day, message, created_at)
        SELECT {literal(NO_RATE_WARNING)}, 'mrr_segments', s.source, s.external_id,
               s.customer_ref, s.starts_on,
               'MRR segment ' || s.external_id || ' of customer ' || s.customer_ref
               || ' is left out: no ' || s.currency || ' exchange rate on or before '
               || s.starts_on, now()
        FROM data_mrr_segments s {scope}
        LEFT JOIN (
            SELECT currency, min(day) AS day FROM data_exchange_rates
            WHERE deleted_at IS NULL GROUP BY currency
        ) first_rate ON first_rate.currency = s.currency
        WHERE s.deleted_at IS NULL AND s.mrr_minor <> 0 AND s.currency <> {reporting}
          AND (first_rate.day IS NULL OR s.starts_on < first_rate.day)
    """


# The two ledgers: by customer (the MRR movements every KPI reads) and by customer and plan
# (the plan breakdowns). Both are rebuilt together, for the same customers.
LEDGERS = (
    (MOVEMENTS_TABLE, "source, customer_ref, day", False),
    (PLAN_MOVEMENTS_TABLE, "source, customer_ref, plan_ref, day", True),
)


def _changed_days_sql(table: str, old: str, columns: str) -> str:
    # The days on which the old and the new movements of the scope differ.
    new = (
        f"SELECT {', '.join('m.' + c for c in columns.split(', '))} FROM {table} m "
        f"JOIN {_SCOPE} sc ON sc.source = m.source AND sc.customer_ref = m.customer_ref"
    )
    return f"""
        SELECT array_agg(DISTINCT day) FROM (
            (SELECT {columns} FROM {old} EXCEPT ALL {new})
            UNION ALL
            ({new} EXCEPT ALL SELECT {columns} FROM {old})
        ) difference
    """


# The sums of both day tables (MrrMovementSums): new, reactivation, expansion, contraction,
# churn, net, starts, churns.
_MOVEMENT_SUMS = """
           sum(m.amount) FILTER (WHERE m.kind = 'new'),
           sum(m.amount) FILTER (WHERE m.kind = 'reactivation'),
           sum(m.amount) FILTER (WHERE m.kind = 'expansion'),
           sum(m.amount) FILTER (WHERE m.kind = 'contraction'),
           sum(m.amount) FILTER (WHERE m.kind = 'churn'),
           sum(m.amount),
           count(*) FILTER (WHERE m.kind IN ('new', 'reactivation')),
           count(*) FILTER (WHERE m.kind = 'churn')"""

# The MRR days: the movements of each day summed per customer country and channel, with
# each movement's retention figures as if it were its customer's only one in its period.
# Every sum depends on the kind and amount of the movements alone (MRR before a movement is
# positive unless it starts the customer, and MRR after is zero when it churns).
MRR_DAYS_SQL = f"""
    INSERT INTO {MRR_DAYS_TABLE} (day, country, channel, new, reactivation, expansion,
        contraction, churn, net, starts, churns, cohort_change, cohort_loss, cohort_lost)
    SELECT m.day, {label_sql("c.country")}, {label_sql("c.channel")},
           {_MOVEMENT_SUMS},
           sum(m.mrr_after - m.mrr_before) FILTER (WHERE m.mrr_before > 0),
           sum(least(m.mrr_after - m.mrr_before, 0)) FILTER (WHERE m.mrr_before > 0),
           count(*) FILTER (WHERE m.mrr_before > 0 AND m.mrr_after = 0)
    FROM {MOVEMENTS_TABLE} m
    {labels_join_sql("m")}
    {{where}}
    GROUP BY 1, 2, 3
"""


# The plan ledger's movements summed per day and plan: the flows alone (the plan breakdowns
# have no retention figures); no customer labels.
MRR_PLAN_DAYS_SQL = f"""
    INSERT INTO {MRR_PLAN_DAYS_TABLE} (day, source, plan_ref, new, reactivation, expansion,
        contraction, churn, net, starts, churns)
    SELECT m.day, m.source, m.plan_ref,
           {_MOVEMENT_SUMS}
    FROM {PLAN_MOVEMENTS_TABLE} m
    {{where}}
    GROUP BY 1, 2, 3
"""


def rebuild_day_sums(cursor, days: Sequence[dt.date] | None = None, by_plan: bool = False):
    """Rebuild the MRR days (``by_plan``: the MRR plan days) of ``days``, all of them when
    None, from the ledger."""
    table, sql = (
        (MRR_PLAN_DAYS_TABLE, MRR_PLAN_DAYS_SQL) if by_plan else (MRR_DAYS_TABLE, MRR_DAYS_SQL)
    )
    if days is None:
        cursor.execute(f"TRUNCATE {table}")
        cursor.execute(sql.format(where=""))
        cursor.execute(f"ANALYZE {table}")
        return
    # A few days: one pass over the ledger (no day index to keep up in full builds).
    params = {"days": list(days)}
    cursor.execute(f"DELETE FROM {table} WHERE day = ANY(%(days)s::date[])", params)
    cursor.execute(sql.format(where="WHERE m.day = ANY(%(days)s::date[])"), params)


def rebuild_all(context: KPIContext, ledgers: Sequence[tuple] = LEDGERS) -> LedgerBuild:
    """Rebuild the whole ledger (after a settings change or an exchange-rate change).

    ``ledgers`` narrows the build to some of :data:`LEDGERS` (benchmarks time them apart).
    """
    with transaction.atomic(), connection.cursor() as cursor:
        _lock(cursor)
        # Every pending dirty customer is covered by this build.
        cursor.execute(f"DELETE FROM {DIRTY_TABLE}")
        rates_until = create_day_rates(cursor, context.as_of)
        for table, key, by_plan in ledgers:
            cursor.execute(f"TRUNCATE {table}")
            # Into an empty table, writing the rows and then sorting them into a new key
            # index is faster than inserting every row into the index.
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey")
            _insert_movements(cursor, context, table, False, by_plan, rates_until)
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({key})")
        cursor.execute(f"DROP TABLE {DAY_RATES}")
        cursor.execute("DELETE FROM kpis_data_warning WHERE kind = %s", [NO_RATE_WARNING])
        cursor.execute(_warnings_sql(context, scoped=False))
        _save_state()
    # Any day may have changed: callers recompute every period.
    return LedgerBuild(None, None)


def _insert_movements(
    cursor, context: KPIContext, table: str, scoped: bool, by_plan: bool, rates_until: dt.date
):
    plan = "plan_ref, " if by_plan else ""
    neighbours = "" if by_plan else ", previous_day, next_day"
    cursor.execute(
        f"INSERT INTO {table} (source, customer_ref, {plan}day, kind, amount, mrr_before, "
        f"mrr_after{neighbours}) " + movements_sql(context, scoped=scoped, by_plan=by_plan),
        {"rates_until": rates_until},
    )


def rebuild_changed(context: KPIContext) -> LedgerBuild:
    """Rebuild the ledger of the customers whose segments were written since the last build.

    The customers are taken from the dirty table in the build's transaction: a write that
    commits during the build leaves its row for the next build, and a failed build puts the
    rows it took back.
    """
    state = LedgerState.objects.first()
    if state is None or state.built_at is None or _lost_after_crash(context):
        return rebuild_all(context)
    with transaction.atomic(), connection.cursor() as cursor:
        _lock(cursor)
        cursor.execute(
            f"CREATE TEMPORARY TABLE {_SCOPE} (source varchar(64), customer_ref varchar(255)) "
            "ON COMMIT DROP"
        )
        cursor.execute(
            f"WITH taken AS (DELETE FROM {DIRTY_TABLE} RETURNING source, customer_ref) "
            f"INSERT INTO {_SCOPE} SELECT source, customer_ref FROM taken"
        )
        customers = cursor.rowcount
        if customers == 0:
            cursor.execute(f"DROP TABLE {_SCOPE}")
            return LedgerBuild(0, None)
        cursor.execute(f"ANALYZE {_SCOPE}")
        rates_until = create_day_rates(cursor, context.as_of)
        firsts = []
        for index, (table, key, by_plan) in enumerate(LEDGERS):
            old = f"_ledger_old_{index}"
            columns = f"{key}, kind, amount"
            cursor.execute(
                f"CREATE TEMPORARY TABLE {old} ON COMMIT DROP AS "
                f"SELECT {', '.join('m.' + c for c in columns.split(', '))} FROM {table} m "
                f"JOIN {_SCOPE} sc ON sc.source = m.source AND sc.customer_ref = m.customer_ref"
            )
            cursor.execute(
                f"DELETE FROM {table} m USING {_SCOPE} sc "
                "WHERE sc.source = m.source AND sc.customer_ref = m.customer_ref"
            )
            _insert_movements(cursor, context, table, True, by_plan, rates_until)
            cursor.execute(_changed_days_sql(table, old, columns))
            days = cursor.fetchone()[0] or []
            if days:
                rebuild_day_sums(cursor, days, by_plan)
            firsts.append(min(days, default=None))
            cursor.execute(f"DROP TABLE {old}")
        cursor.execute(
            f"DELETE FROM kpis_data_warning w USING {_SCOPE} sc WHERE w.kind = %s "
            "AND w.source = sc.source AND w.customer_ref = sc.customer_ref",
            [NO_RATE_WARNING],
        )
        cursor.execute(_warnings_sql(context, scoped=True))
        _save_state()
        cursor.execute(f"SELECT source, customer_ref FROM {_SCOPE}")
        rebuilt = tuple(cursor.fetchall())
        cursor.execute(f"DROP TABLE {_SCOPE}, {DAY_RATES}")
    firsts = [day for day in firsts if day is not None]
    return LedgerBuild(customers, min(firsts) if firsts else None, rebuilt)


def _lost_after_crash(context: KPIContext) -> bool:
    # The ledger is UNLOGGED: after a crash PostgreSQL empties it, while segments remain.
    rows = context.query(
        "SELECT NOT EXISTS (SELECT 1 FROM kpis_mrr_movement) AND EXISTS (SELECT 1 FROM "
        "data_mrr_segments WHERE deleted_at IS NULL AND mrr_minor <> 0)"
    )
    return rows[0][0]


def _lock(cursor) -> None:
    # One ledger build at a time per company schema.
    cursor.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':mrr-ledger'))")


def _save_state() -> None:
    state = LedgerState.objects.first() or LedgerState()
    state.built_at = timezone.now()
    state.save()
