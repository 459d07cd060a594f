"""The public API for plugin authors. Plugins import from here and nowhere else in kpiplatform.

Versioned: ``SDK_VERSION`` follows semantic versioning; a plugin declares the range it supports.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import time
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import pluggy

SDK_VERSION = "1.6.0"
PROJECT_NAME = "kpiplatform"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class Tier(StrEnum):
    """How a plugin may be switched off. Declare it in the plugin module as ``TIER``."""

    ESSENTIAL = "essential"  # always on: a company cannot disable it
    DEFAULT = "default"  # on unless a company disables it


class Grain(StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO week, starting Monday
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


@dataclass(frozen=True, order=True)
class Period:
    """``[start, end)`` in the company's time zone, at midnight; ``end`` is exclusive."""

    grain: Grain
    start: dt.date
    end: dt.date

    @classmethod
    def containing(cls, grain: Grain, day: dt.date) -> Period:
        if grain == Grain.DAY:
            start = day
        elif grain == Grain.WEEK:
            start = day - dt.timedelta(days=day.weekday())
        elif grain == Grain.MONTH:
            start = day.replace(day=1)
        elif grain == Grain.QUARTER:
            start = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        else:
            start = dt.date(day.year, 1, 1)
        return cls(grain, start, _advance(grain, start, 1))

    @classmethod
    def between(cls, grain: Grain, first_day: dt.date, last_day: dt.date) -> list[Period]:
        """Every period of ``grain`` that overlaps ``[first_day, last_day]``, in order."""
        periods = []
        period = cls.containing(grain, first_day)
        while period.start <= last_day:
            periods.append(period)
            period = period.next()
        return periods

    def next(self) -> Period:
        return Period(self.grain, self.end, _advance(self.grain, self.end, 1))

    def previous(self) -> Period:
        start = _advance(self.grain, self.start, -1)
        return Period(self.grain, start, self.start)

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    @property
    def label(self) -> str:
        if self.grain == Grain.DAY:
            return self.start.isoformat()
        if self.grain == Grain.WEEK:
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        if self.grain == Grain.MONTH:
            return self.start.strftime("%Y-%m")
        if self.grain == Grain.QUARTER:
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return str(self.start.year)


def _advance(grain: Grain, start: dt.date, steps: int) -> dt.date:
    if grain == Grain.DAY:
        return start + dt.timedelta(days=steps)
    if grain == Grain.WEEK:
        return start + dt.timedelta(weeks=steps)
    months = {Grain.MONTH: 1, Grain.QUARTER: 3, Grain.YEAR: 12}[grain] * steps
    index = start.year * 12 + start.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


class Unit(StrEnum):
    CURRENCY = "currency"
    PERCENT = "percent"
    RATIO = "ratio"
    COUNT = "count"
    MONTHS = "months"
    SCORE = "score"


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher"
    LOWER_IS_BETTER = "lower"


@dataclass(frozen=True)
class KPIResult:
    """One value of a KPI for one period (and segment).

    ``value`` is None when undefined (zero denominator, no data), with ``reason`` in words.
    Numerator and denominator are exact, so values can be re-aggregated. For a percent,
    ``value`` is the fraction (0.25 for 25 %); pages format it.
    """

    value: Decimal | None
    numerator: Decimal | None = None
    denominator: Decimal | None = None
    reason: str = ""

    @classmethod
    def ratio(cls, numerator, denominator, reason_if_undefined: str) -> KPIResult:
        num = Decimal(numerator or 0)
        den = Decimal(denominator or 0)
        if den == 0:
            return cls(None, num, den, reason_if_undefined)
        return cls(num / den, num, den)

    @classmethod
    def amount(cls, value) -> KPIResult:
        value = Decimal(value or 0)
        return cls(value, value, Decimal(1))


@dataclass(frozen=True)
class KPIValue:
    """A computed value addressed by period and segment (``""`` means all)."""

    period: Period
    result: KPIResult
    segment_kind: str = ""
    segment: str = ""


# The MRR movements ledger the platform keeps in every company schema; KPIs read it with SQL.
# Columns: source, customer_ref, day, kind (new, expansion, contraction, churn, reactivation),
# amount (signed), mrr_before, mrr_after; money in major units of the reporting currency; and
# previous_day and next_day, the days of the customer's movements before and after (NULL: none;
# next_day may lie after as_of, for a change already scheduled).
# One row per change of a customer's MRR (docs/kpis.md, "MRR movements"). It is rebuilt
# from the ``mrr_segments`` dataset, so a KPI reading it declares ``requires=("mrr_segments",)``.
MRR_MOVEMENTS_TABLE = "kpis_mrr_movement"
# The ledger's movements summed per day and customer label: one row per day, country and channel
# (the customer's, "unknown" when empty), with new, reactivation, expansion, contraction and
# churn (sums of the movements of each kind, NULL when none), net (all of them), starts (new
# business and reactivations) and churns (counts), and the retention figures of the movements
# of customers that had MRR before them: cohort_change (sum of mrr_after - mrr_before),
# cohort_loss (the same, counting rises as 0) and cohort_lost (how many went to 0), as if each
# were its customer's only movement in its period. Added in SDK 1.2. A KPI reading it declares
# ``requires=("mrr_segments", "customers")``.
MRR_DAYS_TABLE = "kpis_mrr_day"
# The same ledger by customer and plan (one more column, plan_ref): each customer's MRR on each
# plan is classified on its own, so moving to another plan churns the old plan and is new
# business (or a reactivation) on the new one. KPIs read it for their plan breakdowns.
MRR_PLAN_MOVEMENTS_TABLE = "kpis_mrr_plan_movement"
# The plan ledger's movements summed per day, source and plan_ref: new, reactivation,
# expansion, contraction, churn, net, starts and churns as in MRR_DAYS_TABLE (no retention
# figures). Added in SDK 1.2; a KPI reading it declares ``requires=("mrr_segments",)``.
MRR_PLAN_DAYS_TABLE = "kpis_mrr_plan_day"
# Successful payments per customer and day (the day in the company's time zone), converted to
# the reporting currency at the rate of that day, before tax. Columns: source, customer_ref
# ("" for payments of no customer), day, net (charges minus refunds), charged (charges),
# order_amount (one-off charges), payments, charges and orders (counts of those with a rate),
# paid (successful charges, with a rate or not) and unconverted (payments left out for want
# of a rate). Rebuilt from ``payments``: a KPI reading it declares ``requires=("payments",)``.
PAYMENT_DAYS_TABLE = "kpis_payment_day"
# The payment days summed per local day and customer label: one row per day, country and
# channel (the customer's, "unknown" when empty or for payments of no customer), with the
# columns above that add up (net, charged, order_amount, payments, charges, orders) and
# paying_day, paying_week, paying_month, paying_quarter, paying_year: the customers counted on
# this day among the distinct paying customers of the period of that grain (each on its
# first charge day in the period), so that any period's count is a sum. Added in SDK 1.2.
# Derived from ``payments`` and ``customers``: a KPI reading it declares both.
REVENUE_DAYS_TABLE = "kpis_revenue_day"
# Per customer (source, customer_ref): first_paid_day, the first day with MRR > 0 or the first
# successful charge, whichever is earlier; and revenue_to_date, the net revenue of all its
# payments (as ``net`` above); and (added in SDK 1.2) the customer's country, channel and
# campaign ("unknown" when empty; a KPI reading them declares ``"customers"``). Derived from
# ``payments`` and ``mrr_segments``. A KPI reading
# first_paid_day adds FIRST_PAID_DAYS to its ``requires``, one reading revenue_to_date adds
# REVENUE_TO_DATE: the engine then recomputes it from the first paid day of every customer
# whose value changed (a sale today moves the revenue to date of a customer acquired in 2024).
CUSTOMER_FACTS_TABLE = "kpis_customer_fact"
FIRST_PAID_DAYS = "first_paid_days"
REVENUE_TO_DATE = "revenue_to_date"
# --- One customer across sources (added in SDK 1.4) ---
# Per customer (source, customer_ref) not deleted: the labels the facts above use, the
# customer's own country, and its own channel and campaign or, when its channel is empty,
# those of the lead it came from (lead_source, lead_ref: the earliest lead linked to it by
# customer_ref in its source or by the same e-mail, case and spaces aside). A view, always
# current; a KPI reading it declares ``requires=("customers", "leads")``.
CUSTOMER_LABELS_TABLE = "kpis_customer_label"
# Per lead (source, lead_ref) not deleted: created_at, channel and campaign (the lead's), the
# customer it became (customer_source, customer_ref: its customer_ref in its own source, else
# the earliest-created customer with the same e-mail; NULL when none) and customer_at, the
# earlier of the lead's own customer_at and the start (UTC) of that customer's first paid
# day. A view, always current. A KPI reading customer_at declares LEAD_CUSTOMERS besides
# "leads": the engine then recomputes it from the creation of every lead whose customer
# changed (a Stripe payment today converts a lead created last year).
LEAD_CUSTOMERS_TABLE = "kpis_lead_customer"
LEAD_CUSTOMERS = "lead_customers"


class KPIContext(Protocol):
    """What a KPI computes with, inside the company's schema (a Celery task)."""

    reporting_currency: str
    time_zone: str  # IANA name, e.g. "Europe/Paris"
    gross_margin: Decimal  # 0..1

    # The last day that counts (today in the company's time zone): a period reaching past it
    # is measured up to it, so scheduled future changes do not show before they happen.
    as_of: dt.date
    # Scratch space shared by the KPIs of one computation run (e.g. facts several KPIs read).
    memo: dict[Any, Any]

    def query(self, sql: str, params: Sequence[Any] | dict | None = None) -> list[tuple]:
        """Run SQL in the company's schema and return all rows.

        The SQL runs under the company's database role: it reads the company's datasets,
        derived facts and stored KPI values, and may create temporary tables; anything else
        (another company's schema, the public schema, users) fails with "permission denied".
        """
        ...

    def values_of(self, key: str, periods: Sequence[Period]) -> dict[Period, KPIResult]:
        """Values of another KPI (declared in ``depends_on``) for ``periods`` (all segments
        combined): computed earlier in this run, or else as last stored."""
        ...

    def money_sql(self, amount_minor: str, currency: str, day: str) -> str:
        """SQL converting the column ``amount_minor`` of ``currency`` to major units of the
        reporting currency at the latest rate on or before ``day``; NULL when no rate is known
        (leave such records out: the platform reports them as data-quality warnings)."""
        ...

    def local_date_sql(self, timestamp: str) -> str:
        """SQL for the calendar day of the timestamp column ``timestamp`` in the company's
        time zone."""
        ...


@dataclass
class KPI:
    """A KPI definition. Subclass and implement :meth:`compute`.

    ``requires`` names the canonical datasets it reads (``"mrr_segments"``, ``"payments"``…):
    after a sync, only KPIs whose datasets changed are recomputed. ``depends_on`` names KPIs
    whose values this one reads through ``context.values_of``; they are computed first.
    """

    key: str = ""
    name: str = ""
    description: str = ""
    unit: Unit = Unit.COUNT
    direction: Direction = Direction.HIGHER_IS_BETTER
    requires: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()  # segment kinds it can break down by: plan, country, ...

    def compute(self, context: KPIContext, periods: Sequence[Period]) -> Iterable[KPIValue]:
        """Compute the KPI for every period in ``periods`` (consecutive periods of one grain),
        all segments included.

        Compute all periods at once in SQL: one query per KPI, not one per period. The
        engine gives only the periods that the data reaches, in as many calls as there are
        runs of consecutive periods (docs/plugins.md).
        """
        raise NotImplementedError


@dataclass(frozen=True)
class ConfigField:
    """One field of a connector's configuration form."""

    name: str
    label: str
    kind: str = "text"  # text, secret, boolean, choice
    required: bool = True
    help_text: str = ""
    choices: tuple[tuple[str, str], ...] = ()


@dataclass
class DatasetChanges:
    """Which datasets a write touched and the calendar days the touched records may fall on
    in any company's time zone (for timestamps, the UTC days widened by one day on each
    side, as the platform's writer reports them)."""

    ranges: dict[str, tuple[dt.date, dt.date]] = field(default_factory=dict)

    def add(self, dataset: str, first_day: dt.date, last_day: dt.date) -> None:
        if dataset in self.ranges:
            lo, hi = self.ranges[dataset]
            first_day, last_day = min(lo, first_day), max(hi, last_day)
        self.ranges[dataset] = (first_day, last_day)

    def merge(self, other: DatasetChanges) -> None:
        for dataset, (lo, hi) in other.ranges.items():
            self.add(dataset, lo, hi)


class Writer(Protocol):
    """Writes canonical records in bulk (COPY + upsert on (source, external_id))."""

    def upsert(self, dataset: str, records: Iterable[dict[str, Any]]) -> int:
        """Insert or update records; return how many rows were written."""
        ...

    def delete(self, dataset: str, external_ids: Iterable[str]) -> int:
        """Remove records deleted upstream; return how many."""
        ...

    @property
    def changes(self) -> DatasetChanges: ...


class CredentialsRejected(Exception):
    """Raise from a connector's ``check`` or ``sync`` when the upstream refuses the
    credentials (a 401 or 403): the platform marks the connection "needs new credentials"
    with the message, instead of merely failing the run. Never put the secret in the message.
    Added in SDK 1.3."""


class RetryLater(Exception):
    """An upstream answer worth retrying (429 Too Many Requests, a 5xx): raise it from the
    function given to :func:`with_retries`, with the answer's ``Retry-After`` header.
    Added in SDK 1.3."""

    def __init__(self, message: str, retry_after: str | float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_after_seconds(value: str | float | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: a number of seconds or an HTTP date
    (RFC 9110); None when absent or unreadable. Added in SDK 1.3."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return max(0.0, float(value))
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def with_retries(
    fn: Callable[..., Any],
    *args: Any,
    attempts: int = 5,
    base_delay_s: float = 1.0,
    max_delay_s: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs: Any,
) -> Any:
    """Call ``fn(*args, **kwargs)``; when it raises :class:`RetryLater`, wait and call again,
    up to ``attempts`` calls in all. The wait is the error's ``Retry-After`` when it has one,
    else exponential backoff from ``base_delay_s`` (1, 2, 4... s); never above
    ``max_delay_s``. The last attempt's error propagates (it fails the sync run with its
    message). Added in SDK 1.3."""
    for attempt in range(1, attempts + 1):
        try:
            return fn(*args, **kwargs)
        except RetryLater as exc:
            if attempt >= attempts:
                raise
            delay = retry_after_seconds(exc.retry_after)
            if delay is None:
                delay = base_delay_s * 2 ** (attempt - 1)
            sleep(min(delay, max_delay_s))
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class SourceObject:
    """An upstream object a connector keeps (SDK 1.4): its id at the source, an optional
    ``parent`` id to find it by (an invoice's subscription), and the object itself as JSON
    (None: forget it)."""

    external_id: str
    payload: dict[str, Any] | None
    parent: str = ""


# Set by the platform while it runs a connector's sync: reads the connection's stored source
# objects. Plugins call stored_source_objects, never this.
_source_object_reader: Callable[..., list[dict[str, Any]]] | None = None


# Set by the platform while it runs a connector's sync: the company's time zone (IANA name).
# Plugins call company_time_zone, never this.
_company_time_zone: str | None = None


def company_time_zone() -> zoneinfo.ZoneInfo:
    """The time zone the company's days and periods are cut in (SDK 1.6): a connector that
    turns upstream timestamps into calendar days (an MRR segment's ``starts_on``) takes
    them in it, as the canonical datasets' dates are days in the company's time zone. A
    company can change it: keep the zone your dates were made in with your cursor, and make
    them again when it differs. Only callable from within a connector's ``sync``; elsewhere
    it raises RuntimeError."""
    if _company_time_zone is None:
        raise RuntimeError("company_time_zone is only available while a sync runs")
    return zoneinfo.ZoneInfo(_company_time_zone)


def stored_source_objects(
    kind: str,
    *,
    external_ids: Iterable[str] | None = None,
    parents: Iterable[str] | None = None,
    after: str | None = None,
    limit: int | None = None,
    fields: Iterable[str] | None = None,
    written_before: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The source objects of ``kind`` this connection stored with earlier pages (SDK 1.4),
    read-only, as ``{"external_id", "parent", "payload"}`` in ``external_id`` order: those
    with the given ids, or those of the given parents, or (neither given) every one after
    ``after``, at most ``limit``. ``fields`` (SDK 1.5) names the top-level keys of the
    payload to return, each present (None where the payload has no such key); reading only
    what a derivation needs is much faster than reading whole objects. ``written_before``
    (SDK 1.5) keeps only the objects last stored before that time: after a full resync has
    stored everything the upstream lists, those are the ones it no longer has. Only callable
    from within a connector's ``sync`` (the platform knows the connection then); elsewhere
    it raises RuntimeError."""
    if _source_object_reader is None:
        raise RuntimeError("stored_source_objects is only available while a sync runs")
    return _source_object_reader(
        kind,
        external_ids=None if external_ids is None else list(external_ids),
        parents=None if parents is None else list(parents),
        after=after,
        limit=limit,
        fields=None if fields is None else list(fields),
        written_before=written_before,
    )


class WebhookRejected(Exception):
    """Raise from a connector's ``verify_webhook`` when a delivery is not genuine (a bad or
    missing signature, an unreadable body): the platform answers 400 and changes nothing.
    Added in SDK 1.4."""


@dataclass
class SyncPage:
    """One page of a sync, as a connector's ``sync`` yields it. Added in SDK 1.3.

    ``records`` maps a dataset name to the records to upsert, ``deleted`` a dataset name to
    the external ids deleted upstream (tombstoned), and ``state`` is the cursor *after* this
    page: the platform writes the page and stores ``state`` in one transaction, so a sync
    interrupted anywhere resumes from the last stored page, never losing or repeating one.
    ``progress`` is a short sentence for people ("page 3 of 10", "invoices up to 2025-03").
    """

    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    deleted: dict[str, list[str]] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    progress: str = ""
    # Added in SDK 1.4: the upstream objects the records were derived from, kept by the
    # platform per connection in the page's transaction, so the connector can derive them again
    # later without asking the upstream (read them back with stored_source_objects). Maps a kind
    # ("subscription", "invoice"...) to SourceObject values; an object stored again replaces the
    # stored one, and one with ``payload=None`` is removed.
    source_objects: dict[str, list[SourceObject]] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoSandbox:
    """How ``make run`` connects its demo company to a connector's local sandbox (SDK 1.4).

    The platform runs ``python -m <generator> --out <seed file> *generator_args`` once (the
    file is kept in the var folder), adding ``<option> <seed file of that connector>`` for each
    entry of ``seed_inputs`` (so a CRM seed can match the billing seed's customers), then
    serves ``python -m <sandbox> --port 0 --seed <seed file>``, which must print
    ``listening on <url>`` when ready. ``address_variable`` is the server setting that points
    the connector at that url, and ``connection_config(seed_dir)`` the demo connection's
    fields, secrets included. ``{seed_dir}`` in ``generator_args`` is the seed folder.
    """

    sandbox: str
    generator: str
    address_variable: str
    connection_config: Callable[[Path], dict[str, Any]]
    generator_args: tuple[str, ...] = ()
    seed_inputs: tuple[tuple[str, str], ...] = ()  # (generator option, connector key)


@dataclass
class Connector:
    """A data source. Implement :meth:`check` and :meth:`sync` (docs/plugins.md, "Connectors").

    ``config_fields`` is the connection's form: fields of kind ``"secret"`` are encrypted at
    rest, never shown again and never logged; the others are stored as they are.
    """

    key: str = ""
    name: str = ""
    config_fields: tuple[ConfigField, ...] = ()

    def check(self, config: dict[str, Any]) -> None:
        """Test the credentials; raise an exception with a readable message if they fail
        (:class:`CredentialsRejected` when the upstream refuses them)."""
        raise NotImplementedError

    # Added in SDK 1.4: a connector that accepts webhooks sets this and implements
    # verify_webhook; the platform then gives each connection an unguessable webhook address.
    accepts_webhooks: bool = False
    # Added in SDK 1.4: how the demo company of `make run` is fed from this connector's
    # local sandbox (None: the demo does without it).
    demo: DemoSandbox | None = None

    def verify_webhook(self, config: dict[str, Any], body: bytes, headers: dict[str, str]) -> str:
        """Check that a webhook delivery is genuine with the connection's ``config`` (its
        signing secret) and return the upstream's event id, which the platform deduplicates
        on before it starts an incremental sync; raise :class:`WebhookRejected` otherwise.
        ``headers`` has lower-case names. Added in SDK 1.4."""
        raise WebhookRejected("This connector does not accept webhooks.")

    def sync(self, config: dict[str, Any], state: dict[str, Any]) -> Iterable[SyncPage]:
        """Pull incrementally from ``state`` (the last stored cursor, ``{}`` the first time)
        and yield :class:`SyncPage` objects, each with the cursor after it. Changed in SDK
        1.3 (before, it wrote through a writer; the platform never called it)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Notification:
    """A message to deliver: a subject, a plain-text body and an optional link to the page.

    ``key`` identifies the notification and stays the same when a failed delivery is retried,
    so a receiver can drop duplicates; ``data`` is the same content as plain JSON values
    (for alerts: the rule, the KPI, the period, the value, the threshold). Both added in 1.4.
    """

    subject: str
    body: str
    link: str = ""
    key: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class NotificationChannel:
    """A way to deliver notifications (e-mail, signed webhook, chat). Implement :meth:`send`.

    ``config_fields`` is the form a company fills in when it adds the channel (a webhook URL,
    a signing secret); ``send`` receives those values and raises with a readable message when
    delivery fails.
    """

    key: str = ""
    name: str = ""
    config_fields: tuple[ConfigField, ...] = ()

    def validate(self, config: dict[str, Any]) -> None:
        """Check a configuration when a company saves it; raise ``ValueError`` with a message
        the company reads (the platform answers 400 with it). Added in 1.4; by default every
        configuration with the required fields is accepted."""

    def send(self, config: dict[str, Any], message: Notification) -> None:
        """Deliver ``message`` with the company's ``config``; raise if it cannot be delivered."""
        raise NotImplementedError


__all__ = [
    "CUSTOMER_FACTS_TABLE",
    "CUSTOMER_LABELS_TABLE",
    "FIRST_PAID_DAYS",
    "KPI",
    "LEAD_CUSTOMERS",
    "LEAD_CUSTOMERS_TABLE",
    "MRR_DAYS_TABLE",
    "MRR_MOVEMENTS_TABLE",
    "MRR_PLAN_DAYS_TABLE",
    "MRR_PLAN_MOVEMENTS_TABLE",
    "PAYMENT_DAYS_TABLE",
    "REVENUE_DAYS_TABLE",
    "REVENUE_TO_DATE",
    "SDK_VERSION",
    "ConfigField",
    "Connector",
    "CredentialsRejected",
    "DatasetChanges",
    "Direction",
    "Grain",
    "KPIContext",
    "KPIResult",
    "KPIValue",
    "Notification",
    "NotificationChannel",
    "Period",
    "RetryLater",
    "SourceObject",
    "SyncPage",
    "Tier",
    "Unit",
    "WebhookRejected",
    "Writer",
    "company_time_zone",
    "hookimpl",
    "retry_after_seconds",
    "stored_source_objects",
    "with_retries",
]
