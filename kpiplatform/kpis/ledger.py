"""The MRR movements ledger: one row per change of a customer's MRR (KPI-DEFINITIONS.md).

Built in SQL from the MRR segments: segment boundaries become per-customer daily deltas, a
running sum gives the MRR after each change, and each change day is classified. Each segment
is converted at the exchange rate of its first day, so rate moves never create movements; a
segment with no rate is left out and recorded as a :class:`DataWarning`.

The ledger is rebuilt for the customers whose segments changed since the last build (the
dirty customers the segment triggers record; deletions are tombstones), or entirely.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from kpiplatform.kpis.context import SqlKPIContext
from kpiplatform.kpis.models import LedgerState

NO_RATE_WARNING = "mrr_segment_without_rate"

# The customers a partial rebuild works on, in a temporary table named below.
_SCOPE = "_ledger_scope"
# Customers whose segments changed since the last build, filled by triggers on the segments
# (migration 0003): rows appear when the writes commit.
DIRTY_TABLE = "kpis_ledger_dirty_customer"


@dataclass(frozen=True)
class LedgerBuild:
    """What a rebuild did: how many customers it covered (None: all) and the first day whose
    movements differ from before (None when none changed), which bounds the KPI recompute."""

    customers: int | None
    first_changed_day: dt.date | None


def _segments_sql(context: SqlKPIContext, scoped: bool, foreign_only: bool = False) -> str:
    money = context.money_sql("s.mrr_minor", "s.currency", "s.starts_on")
    scope = (
        f"JOIN {_SCOPE} sc ON sc.source = s.source AND sc.customer_ref = s.customer_ref"
        if scoped
        else ""
    )
    # Only segments in another currency than the reporting one can lack a rate.
    reporting = context.reporting_currency.replace("'", "")
    foreign = f"AND s.currency <> '{reporting}'" if foreign_only else ""
    return f"""
        SELECT s.source, s.customer_ref, s.external_id, s.starts_on, s.ends_on, s.currency,
               {money} AS mrr
        FROM data_mrr_segments s {scope}
        WHERE s.deleted_at IS NULL AND s.mrr_minor <> 0 {foreign}
    """


def movements_sql(context: SqlKPIContext, scoped: bool = False) -> str:
    """SELECT of the ledger's rows (source, customer_ref, day, kind, amount, mrr_before,
    mrr_after) from the segments, for every customer or for those in the scope table."""
    return f"""
        WITH seg AS ({_segments_sql(context, scoped)}),
        daily AS (
            SELECT source, customer_ref, day, sum(delta) AS delta
            FROM (
                SELECT source, customer_ref, starts_on AS day, mrr AS delta
                FROM seg WHERE mrr IS NOT NULL
                UNION ALL
                SELECT source, customer_ref, ends_on, -mrr
                FROM seg WHERE mrr IS NOT NULL AND ends_on IS NOT NULL
            ) boundaries
            GROUP BY source, customer_ref, day
            HAVING sum(delta) <> 0
        ),
        running AS (
            SELECT source, customer_ref, day, delta,
                   sum(delta) OVER w AS mrr_after,
                   row_number() OVER w AS nth
            FROM daily
            WINDOW w AS (PARTITION BY source, customer_ref ORDER BY day)
        )
        SELECT source, customer_ref, day,
               CASE
                   -- The first change of a customer starts from nothing: new business;
                   -- any later start from zero means the customer had MRR before.
                   WHEN mrr_after - delta = 0 AND nth = 1 THEN 'new'
                   WHEN mrr_after - delta = 0 THEN 'reactivation'
                   WHEN mrr_after = 0 THEN 'churn'
                   WHEN delta > 0 THEN 'expansion'
                   ELSE 'contraction'
               END AS kind,
               delta AS amount, mrr_after - delta AS mrr_before, mrr_after
        FROM running
    """


def _warnings_sql(context: SqlKPIContext, scoped: bool) -> str:
    return f"""
        INSERT INTO kpis_data_warning
            (kind, dataset, source, external_id, customer_ref, day, message, created_at)
        SELECT '{NO_RATE_WARNING}', 'mrr_segments', source, external_id, customer_ref,
               starts_on,
               'MRR segment ' || external_id || ' of customer ' || customer_ref
               || ' is left out: no ' || currency || ' exchange rate on or before '
               || starts_on, now()
        FROM ({_segments_sql(context, scoped, foreign_only=True)}) seg
        WHERE mrr IS NULL
    """


def _first_difference_sql() -> str:
    # The earliest day on which the old and the new movements of the scope differ.
    return """
        SELECT min(day) FROM (
            (SELECT source, customer_ref, day, kind, amount FROM _ledger_old
             EXCEPT ALL
             SELECT m.source, m.customer_ref, m.day, m.kind, m.amount
             FROM kpis_mrr_movement m
             JOIN _ledger_scope sc
               ON sc.source = m.source AND sc.customer_ref = m.customer_ref)
            UNION ALL
            (SELECT m.source, m.customer_ref, m.day, m.kind, m.amount
             FROM kpis_mrr_movement m
             JOIN _ledger_scope sc
               ON sc.source = m.source AND sc.customer_ref = m.customer_ref
             EXCEPT ALL
             SELECT source, customer_ref, day, kind, amount FROM _ledger_old)
        ) difference
    """


def rebuild_all(context: SqlKPIContext) -> LedgerBuild:
    """Rebuild the whole ledger (after a settings change or an exchange-rate change)."""
    with transaction.atomic(), connection.cursor() as cursor:
        _lock(cursor)
        # Every pending dirty customer is covered by this build.
        cursor.execute(f"DELETE FROM {DIRTY_TABLE}")
        cursor.execute("SELECT min(day) FROM kpis_mrr_movement")
        old_first = cursor.fetchone()[0]
        cursor.execute("TRUNCATE kpis_mrr_movement")
        cursor.execute(
            "INSERT INTO kpis_mrr_movement "
            "(source, customer_ref, day, kind, amount, mrr_before, mrr_after) "
            + movements_sql(context)
        )
        cursor.execute("DELETE FROM kpis_data_warning WHERE kind = %s", [NO_RATE_WARNING])
        cursor.execute(_warnings_sql(context, scoped=False))
        cursor.execute("SELECT min(day) FROM kpis_mrr_movement")
        new_first = cursor.fetchone()[0]
        _save_state()
    firsts = [day for day in (old_first, new_first) if day is not None]
    return LedgerBuild(None, min(firsts) if firsts else None)


def rebuild_changed(context: SqlKPIContext) -> LedgerBuild:
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
        cursor.execute(
            "CREATE TEMPORARY TABLE _ledger_old ON COMMIT DROP AS "
            "SELECT m.source, m.customer_ref, m.day, m.kind, m.amount "
            f"FROM kpis_mrr_movement m JOIN {_SCOPE} sc "
            "ON sc.source = m.source AND sc.customer_ref = m.customer_ref"
        )
        cursor.execute(
            f"DELETE FROM kpis_mrr_movement m USING {_SCOPE} sc "
            "WHERE sc.source = m.source AND sc.customer_ref = m.customer_ref"
        )
        cursor.execute(
            "INSERT INTO kpis_mrr_movement "
            "(source, customer_ref, day, kind, amount, mrr_before, mrr_after) "
            + movements_sql(context, scoped=True)
        )
        cursor.execute(
            f"DELETE FROM kpis_data_warning w USING {_SCOPE} sc WHERE w.kind = %s "
            "AND w.source = sc.source AND w.customer_ref = sc.customer_ref",
            [NO_RATE_WARNING],
        )
        cursor.execute(_warnings_sql(context, scoped=True))
        cursor.execute(_first_difference_sql())
        first_changed = cursor.fetchone()[0]
        _save_state()
        cursor.execute(f"DROP TABLE {_SCOPE}; DROP TABLE _ledger_old")
    return LedgerBuild(customers, first_changed)


def _lost_after_crash(context: SqlKPIContext) -> bool:
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
