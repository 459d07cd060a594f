"""The lists a drill-down opens: the records behind a number, as SQL over the same facts
and canonical data the KPIs read (docs/api.md, "Drill-downs").

Each :class:`DrillList` is one SELECT of rows for a period (and optionally a movement kind
and a segment), with a totals query over the same rows: the totals are what reconcile with
the stored KPI values. Money is in the reporting currency: the ledger and the customer facts
hold it converted already; payments and spend are converted here with the one exchange-rate
rule of :mod:`kpiplatform.facts.money` (rate on or before the record's day; none: left out).
"""

from __future__ import annotations

from dataclasses import dataclass

from kpiplatform.facts.labels import label_sql
from kpiplatform.facts.money import literal, major_sql, rate_on_sql, to_reporting_sql
from kpiplatform.sdk import (
    CUSTOMER_FACTS_TABLE,
    MRR_MOVEMENTS_TABLE,
    MRR_PLAN_MOVEMENTS_TABLE,
)

MOVEMENT_KINDS = ("new", "reactivation", "expansion", "contraction", "churn")
CUSTOMER_LABELS = ("country", "channel")
MARKETING_LABELS = ("channel", "campaign")
PLAN = "plan"


@dataclass(frozen=True)
class Scope:
    """What a list is cut to: the period's days, the day of the computation (movements
    after it are not counted yet), the company's settings, a kind and a segment."""

    start: object  # dt.date, first day
    end: object  # dt.date, exclusive
    as_of: object  # dt.date
    reporting_currency: str
    time_zone: str
    kind: str = ""
    segment_kind: str = ""
    segment: str = ""

    def params(self) -> dict:
        return {
            "start": self.start,
            "end": self.end,
            "as_of": self.as_of,
            "time_zone": self.time_zone,
            "kind": self.kind,
            "segment": self.segment,
        }

    def local_day(self, timestamp: str) -> str:
        return f"(({timestamp}) AT TIME ZONE {literal(self.time_zone)})::date"

    def in_period(self, timestamp: str) -> str:
        return (
            f"{timestamp} >= (%(start)s::timestamp AT TIME ZONE %(time_zone)s) "
            f"AND {timestamp} < (%(end)s::timestamp AT TIME ZONE %(time_zone)s)"
        )


def _customer_join(alias: str) -> str:
    return (
        f"LEFT JOIN data_customers cu ON cu.source = {alias}.source "
        f"AND cu.external_id = {alias}.customer_ref AND cu.deleted_at IS NULL"
    )


_PLAN_JOIN = (
    "LEFT JOIN data_plans pl ON pl.source = m.source AND pl.external_id = m.plan_ref "
    "AND pl.deleted_at IS NULL"
)
# As the plan breakdown of the KPIs labels plans: by name, else by reference.
_PLAN_LABEL = "coalesce(nullif(pl.name, ''), nullif(m.plan_ref, ''), 'unknown')"


@dataclass(frozen=True)
class DrillList:
    """One kind of list: its columns, the SQL of its rows and of its totals."""

    name: str
    title: str
    columns: tuple[str, ...]
    segment_kinds: tuple[str, ...]
    # Column names of the totals query, in order.
    totals: tuple[str, ...]
    takes_kind: bool = False

    def rows_sql(self, scope: Scope) -> str:
        raise NotImplementedError

    def totals_sql(self, scope: Scope) -> str:
        raise NotImplementedError


def _segment_filter(scope: Scope, labels: dict[str, str]) -> str:
    if not scope.segment_kind:
        return ""
    return f"AND {labels[scope.segment_kind]} = %(segment)s"


@dataclass(frozen=True)
class Movements(DrillList):
    """The ledger's movements of the period: per customer and day, kind, amount, MRR before
    and after. By plan, the plan ledger's (a customer moving plans churns the old one)."""

    def _base(self, scope: Scope) -> str:
        kind = "AND m.kind = %(kind)s" if scope.kind else ""
        if scope.segment_kind == PLAN:
            table, join, plan = MRR_PLAN_MOVEMENTS_TABLE, _PLAN_JOIN, _PLAN_LABEL
            labels = {PLAN: _PLAN_LABEL}
        else:
            table, join, plan = MRR_MOVEMENTS_TABLE, "", "''"
            labels = {k: label_sql(f"cu.{k}") for k in CUSTOMER_LABELS}
        return f"""
            SELECT m.source, m.customer_ref, coalesce(cu.name, '') AS name, m.day, m.kind,
                   m.amount, m.mrr_before, m.mrr_after, {plan} AS plan,
                   {label_sql("cu.country")} AS country, {label_sql("cu.channel")} AS channel
            FROM {table} m {_customer_join("m")} {join}
            WHERE m.day >= %(start)s AND m.day < %(end)s AND m.day <= %(as_of)s {kind}
              {_segment_filter(scope, labels)}
        """

    def rows_sql(self, scope: Scope) -> str:
        # The biggest amounts first (churn and contraction: the biggest losses).
        return f"{self._base(scope)} ORDER BY m.kind, abs(m.amount) DESC, m.customer_ref, m.day"

    def totals_sql(self, scope: Scope) -> str:
        return f"SELECT count(*), coalesce(sum(amount), 0) FROM ({self._base(scope)}) rows"

    def counts_by_kind_sql(self, scope: Scope) -> str:
        return f"SELECT kind, count(*) FROM ({self._base(scope)}) rows GROUP BY kind"


@dataclass(frozen=True)
class LedgerCustomers(DrillList):
    """The customers with MRR > 0 at the end of a day: each one's last movement up to it
    has MRR after it (``at_start``: the day before the period, else its last day)."""

    at_start: bool = False

    def _base(self, scope: Scope) -> str:
        until = "m.day < %(start)s" if self.at_start else "m.day < %(end)s"
        if scope.segment_kind == PLAN:
            table, join, key = MRR_PLAN_MOVEMENTS_TABLE, _PLAN_JOIN, ", m.plan_ref"
            plan, labels = _PLAN_LABEL, {PLAN: _PLAN_LABEL}
        else:
            table, join, key, plan = MRR_MOVEMENTS_TABLE, "", "", "''"
            labels = {k: label_sql(f"cu.{k}") for k in CUSTOMER_LABELS}
        return f"""
            SELECT * FROM (
                SELECT DISTINCT ON (m.source, m.customer_ref{key})
                       m.source, m.customer_ref, coalesce(cu.name, '') AS name,
                       m.day AS last_change, m.mrr_after AS mrr, {plan} AS plan,
                       {label_sql("cu.country")} AS country, {label_sql("cu.channel")} AS channel
                FROM {table} m {_customer_join("m")} {join}
                WHERE {until} AND m.day <= %(as_of)s {_segment_filter(scope, labels)}
                ORDER BY m.source, m.customer_ref{key}, m.day DESC
            ) last_changes
            WHERE mrr > 0
        """

    def rows_sql(self, scope: Scope) -> str:
        return f"{self._base(scope)} ORDER BY mrr DESC, customer_ref"

    def totals_sql(self, scope: Scope) -> str:
        # By plan a customer counts once per plan, as the plan breakdown of the KPIs counts.
        return f"SELECT count(*), coalesce(sum(mrr), 0) FROM ({self._base(scope)}) rows"


@dataclass(frozen=True)
class NewCustomers(DrillList):
    """Customers whose first paid day falls in the period (the customer facts), with their
    revenue to date; the facts carry their labels."""

    def _base(self, scope: Scope) -> str:
        labels = {k: f"f.{k}" for k in ("country", "channel", "campaign")}
        return f"""
            SELECT f.source, f.customer_ref, coalesce(cu.name, '') AS name, f.first_paid_day,
                   f.revenue_to_date, f.country, f.channel, f.campaign
            FROM {CUSTOMER_FACTS_TABLE} f {_customer_join("f")}
            WHERE f.first_paid_day >= %(start)s AND f.first_paid_day < %(end)s
              AND f.first_paid_day <= %(as_of)s {_segment_filter(scope, labels)}
        """

    def rows_sql(self, scope: Scope) -> str:
        return f"{self._base(scope)} ORDER BY first_paid_day, customer_ref"

    def totals_sql(self, scope: Scope) -> str:
        return f"SELECT count(*), coalesce(sum(revenue_to_date), 0) FROM ({self._base(scope)}) rows"


@dataclass(frozen=True)
class Payments(DrillList):
    """Successful payments of the period (``orders_only``: one-off charges), each on its day
    in the company's time zone and converted at the rate of that day."""

    orders_only: bool = False

    def _base(self, scope: Scope) -> str:
        day = scope.local_day("p.occurred_at")
        amount = to_reporting_sql(
            "p.amount_minor", "p.currency", scope.reporting_currency, rate_on_sql("p.currency", day)
        )
        labels = {k: label_sql(f"cu.{k}") for k in CUSTOMER_LABELS}
        orders = "AND p.kind = 'charge' AND p.is_order" if self.orders_only else ""
        return f"""
            SELECT p.source, p.external_id, p.customer_ref, coalesce(cu.name, '') AS name,
                   p.occurred_at, {day} AS day, p.kind, p.is_order, p.amount_minor, p.currency,
                   {major_sql("p.amount_minor", "p.currency", scope.reporting_currency)}
                       AS original, {amount} AS amount, {label_sql("cu.country")} AS country,
                   {label_sql("cu.channel")} AS channel
            FROM data_payments p {_customer_join("p")}
            WHERE p.deleted_at IS NULL AND p.status = 'succeeded' {orders}
              AND {scope.in_period("p.occurred_at")} {_segment_filter(scope, labels)}
        """

    def rows_sql(self, scope: Scope) -> str:
        return f"{self._base(scope)} ORDER BY occurred_at, source, external_id"

    def totals_sql(self, scope: Scope) -> str:
        # Net: charges minus refunds; left out: no rate for the payment's day.
        return f"""
            SELECT count(*),
                   coalesce(sum(CASE WHEN kind = 'refund' THEN -amount ELSE amount END), 0),
                   coalesce(sum(amount) FILTER (WHERE kind = 'charge'), 0),
                   count(amount) FILTER (WHERE kind = 'charge' AND is_order),
                   coalesce(sum(amount) FILTER (WHERE kind = 'charge' AND is_order), 0),
                   count(DISTINCT (source, customer_ref))
                       FILTER (WHERE kind = 'charge' AND amount IS NOT NULL
                               AND customer_ref <> ''),
                   count(*) - count(amount)
            FROM ({self._base(scope)}) rows
        """


@dataclass(frozen=True)
class SpendEntries(DrillList):
    """Spend dated in the period and the ad cost web traffic sources report, each converted
    at the rate of its day (as the spend KPIs count them)."""

    def _base(self, scope: Scope) -> str:
        currency = scope.reporting_currency

        def money(amount: str, cur: str, day: str) -> str:
            return to_reporting_sql(amount, cur, currency, rate_on_sql(cur, day))

        channel, campaign = label_sql("channel"), label_sql("campaign")
        filter_ = (
            f"WHERE {dict(channel=channel, campaign=campaign)[scope.segment_kind]} = %(segment)s"
            if scope.segment_kind
            else ""
        )
        return f"""
            SELECT * FROM (
                SELECT 'spend' AS dataset, s.source, s.external_id, s.spent_on AS day,
                       s.channel, s.campaign, s.amount_minor, s.currency,
                       {major_sql("s.amount_minor", "s.currency", currency)} AS original,
                       {money("s.amount_minor", "s.currency", "s.spent_on")} AS amount
                FROM data_spend s
                WHERE s.deleted_at IS NULL AND s.spent_on >= %(start)s AND s.spent_on < %(end)s
                UNION ALL
                SELECT 'web_traffic', w.source, w.external_id, w.day, w.channel, '',
                       w.ad_cost_minor, w.currency,
                       {major_sql("w.ad_cost_minor", "w.currency", currency)},
                       {money("w.ad_cost_minor", "w.currency", "w.day")}
                FROM data_web_traffic w
                WHERE w.deleted_at IS NULL AND w.ad_cost_minor <> 0
                  AND w.day >= %(start)s AND w.day < %(end)s
            ) entries {filter_}
        """

    def rows_sql(self, scope: Scope) -> str:
        return f"{self._base(scope)} ORDER BY day, dataset, source, external_id"

    def totals_sql(self, scope: Scope) -> str:
        return (
            f"SELECT count(*), coalesce(sum(amount), 0), count(*) - count(amount) "
            f"FROM ({self._base(scope)}) rows"
        )


@dataclass(frozen=True)
class Leads(DrillList):
    """Leads created in the period (local day), and whether each has become a customer."""

    def _base(self, scope: Scope) -> str:
        labels = {k: label_sql(f"l.{k}") for k in MARKETING_LABELS}
        return f"""
            SELECT l.source, l.external_id, l.email, l.created_at,
                   {scope.local_day("l.created_at")} AS day, l.lifecycle_stage,
                   {label_sql("l.channel")} AS channel, {label_sql("l.campaign")} AS campaign,
                   l.customer_ref, l.customer_at,
                   (l.customer_at IS NOT NULL AND l.customer_at <= now()) AS converted
            FROM data_leads l
            WHERE l.deleted_at IS NULL AND {scope.in_period("l.created_at")}
              {_segment_filter(scope, labels)}
        """

    def rows_sql(self, scope: Scope) -> str:
        return f"{self._base(scope)} ORDER BY created_at, source, external_id"

    def totals_sql(self, scope: Scope) -> str:
        return f"SELECT count(*), count(*) FILTER (WHERE converted) FROM ({self._base(scope)}) rows"


MOVEMENT_COLUMNS = ("customer", "day", "kind", "amount", "mrr_before", "mrr_after")
LISTS: dict[str, DrillList] = {
    drill_list.name: drill_list
    for drill_list in (
        Movements(
            "movements",
            "MRR movements",
            MOVEMENT_COLUMNS,
            (*CUSTOMER_LABELS, PLAN),
            ("count", "amount"),
            takes_kind=True,
        ),
        LedgerCustomers(
            "active_customers",
            "Active customers at the end",
            ("customer", "mrr", "last_change"),
            (*CUSTOMER_LABELS, PLAN),
            ("count", "mrr"),
        ),
        LedgerCustomers(
            "start_customers",
            "Active customers at the start",
            ("customer", "mrr", "last_change"),
            (*CUSTOMER_LABELS, PLAN),
            ("count", "mrr"),
            at_start=True,
        ),
        NewCustomers(
            "new_customers",
            "New customers",
            ("customer", "first_paid_day", "revenue_to_date"),
            ("country", "channel", "campaign"),
            ("count", "revenue_to_date"),
        ),
        Payments(
            "payments",
            "Payments",
            ("payment", "customer", "day", "kind", "amount_minor", "amount"),
            CUSTOMER_LABELS,
            ("count", "net", "charged", "orders", "order_amount", "paying_customers", "left_out"),
        ),
        Payments(
            "orders",
            "Orders",
            ("payment", "customer", "day", "kind", "amount_minor", "amount"),
            CUSTOMER_LABELS,
            ("count", "net", "charged", "orders", "order_amount", "paying_customers", "left_out"),
            orders_only=True,
        ),
        SpendEntries(
            "spend",
            "Spend",
            ("entry", "day", "channel", "campaign", "amount_minor", "amount"),
            MARKETING_LABELS,
            ("count", "amount", "left_out"),
        ),
        Leads(
            "leads",
            "Leads",
            ("lead", "day", "channel", "campaign", "converted"),
            MARKETING_LABELS,
            ("count", "converted"),
        ),
        NewCustomers(
            "acquired_customers",
            "Customers acquired",
            ("customer", "first_paid_day", "revenue_to_date"),
            MARKETING_LABELS,
            ("count", "revenue_to_date"),
        ),
    )
}
