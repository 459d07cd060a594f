"""Customer facts: per customer, the first paid day and the revenue to date.

The first paid day is the first day with MRR > 0 in the ledger or the first successful
charge, whichever is earlier; new customers, CAC and marketing ROI read these instead of
scanning every payment. The facts of the customers in :data:`CUSTOMER_SCOPE` (a temporary
table the refresh pipeline fills with the customers whose payment days, ledger or labels
changed) are recomputed after each write.
"""

from __future__ import annotations

import datetime as dt

from kpiplatform.facts.labels import label_sql, labels_join_sql
from kpiplatform.sdk import CUSTOMER_FACTS_TABLE, MRR_MOVEMENTS_TABLE, PAYMENT_DAYS_TABLE

# The customers whose facts a refresh recomputes, in a temporary table of the transaction.
CUSTOMER_SCOPE = "_customer_facts_scope"


def _customer_facts_sql(scoped: bool) -> str:
    scope = (
        f"JOIN {CUSTOMER_SCOPE} sc ON sc.source = {{alias}}.source "
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
        {labels_join_sql("f")}
    """


def rebuild(cursor) -> None:
    """Rebuild the facts of every customer (after the ledger and the payment days)."""
    cursor.execute(f"TRUNCATE {CUSTOMER_FACTS_TABLE}")
    cursor.execute(_customer_facts_sql(scoped=False))
    cursor.execute(f"ANALYZE {CUSTOMER_FACTS_TABLE}")


def refresh(cursor) -> tuple[dt.date | None, dt.date | None]:
    # Recompute the scope's facts; return the first day of the changed first paid days and
    # the first paid day of the changed revenues.
    columns = "source, customer_ref, first_paid_day, revenue_to_date"
    cursor.execute(
        f"CREATE TEMPORARY TABLE _old_customer_facts ON COMMIT DROP AS "
        f"SELECT {', '.join('f.' + c for c in columns.split(', '))} "
        f"FROM {CUSTOMER_FACTS_TABLE} f JOIN {CUSTOMER_SCOPE} sc "
        "ON sc.source = f.source AND sc.customer_ref = f.customer_ref"
    )
    cursor.execute(
        f"DELETE FROM {CUSTOMER_FACTS_TABLE} f USING {CUSTOMER_SCOPE} sc "
        "WHERE sc.source = f.source AND sc.customer_ref = f.customer_ref"
    )
    cursor.execute(_customer_facts_sql(scoped=True))
    new = (
        f"SELECT {', '.join('f.' + c for c in columns.split(', '))} "
        f"FROM {CUSTOMER_FACTS_TABLE} f JOIN {CUSTOMER_SCOPE} sc "
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
