"""From report rows to canonical records: channel names, campaigns, counts and money.

One row of the report (a day, a default channel group and a campaign) becomes one
``web_traffic`` record and, when it has advertiser ad cost, one ``spend`` record with the same
external id (``YYYY-MM-DD/<channel group>/<campaign>``, GA4's own names, so two rows never
share an id). Only additive counts are stored; sessions with a key event are the session
key-event rate times sessions (the API has no such count), rounded to the nearest session.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

# GA4's default channel groups -> the platform's channel names, the names leads and customers
# carry (snake case; "organic" is organic search, "social" organic social). Documented in
# docs/connectors.md; a group not listed here becomes its own name in snake case.
CHANNELS = {
    "Organic Search": "organic",
    "Paid Search": "paid_search",
    "Organic Social": "social",
    "Paid Social": "paid_social",
    "Referral": "referral",
    "Email": "email",
    "Direct": "direct",
    "Display": "display",
    "Affiliates": "affiliates",
    "Organic Video": "video",
    "Paid Video": "paid_video",
    "Organic Shopping": "shopping",
    "Paid Shopping": "paid_shopping",
    "Paid Other": "paid_other",
    "Cross-network": "cross_network",
    "Audio": "audio",
    "SMS": "sms",
    "Mobile Push Notifications": "push",
    "Unassigned": "unassigned",
}
# What GA4 reports as the campaign of traffic that has none.
NO_CAMPAIGN = {"(not set)", "(organic)", "(direct)", "(referral)", "(none)", "(data not available)"}

METRICS = (
    "sessions",
    "engagedSessions",
    "totalUsers",
    "keyEvents",
    "sessionKeyEventRate",
    "purchaseRevenue",
    "advertiserAdCost",
)
DIMENSIONS = ("date", "sessionDefaultChannelGroup", "sessionCampaignName")

# ISO 4217 minor-unit exponents that are not 2 (the platform's money uses the same table).
CURRENCY_EXPONENTS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip
MAX_ID = 255


class ConfigError(ValueError):
    """The connection's config cannot work; the message says what to fix (never a secret)."""


class MalformedRow(ValueError):
    """A row of the report that cannot be read; the message names it."""


def channel_name(group: str) -> str:
    if group in CHANNELS:
        return CHANNELS[group]
    return re.sub(r"[^a-z0-9]+", "_", group.lower()).strip("_")[:100]


def campaign_name(campaign: str) -> str:
    return "" if campaign in NO_CAMPAIGN else campaign[:255]


def external_id(day: dt.date, group: str, campaign: str) -> str:
    """``YYYY-MM-DD/<group>/<campaign>``; a name too long for the id is cut and suffixed with
    a hash of the whole, so ids stay distinct and the same for the same row."""
    whole = f"{day.isoformat()}/{group}/{campaign}"
    if len(whole) <= MAX_ID:
        return whole
    digest = hashlib.sha256(whole.encode()).hexdigest()[:16]
    return f"{whole[: MAX_ID - 17]}~{digest}"


def minor_units(amount: Decimal, currency: str) -> int:
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    return int((amount * (10**exponent)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


class RowReader:
    """Reads the rows of one report answer, whose money is in ``currency``."""

    def __init__(self, currency: str) -> None:
        self.currency = currency

    def read(self, dimensions: list[str], metrics: list[str]) -> tuple[dict, dict | None]:
        """(web_traffic record, spend record or None) for one row's values, as strings."""
        where = " / ".join(dimensions)
        if len(dimensions) != len(DIMENSIONS) or len(metrics) != len(METRICS):
            raise MalformedRow(f"the row {where} does not have the columns asked for")
        date, group, campaign = dimensions
        try:
            day = dt.datetime.strptime(date, "%Y%m%d").date()
        except ValueError:
            raise MalformedRow(f"the row {where} has the date {date!r}, not YYYYMMDD") from None
        values = dict(zip(METRICS, metrics, strict=True))

        def count(name: str) -> int:
            text = values[name]
            if not text.isdigit():
                raise MalformedRow(f"the row {where} has {name} {text!r}, not a count")
            return int(text)

        def number(name: str) -> Decimal:
            try:
                value = Decimal(values[name])
            except InvalidOperation:
                value = Decimal("NaN")
            if not value.is_finite() or value < 0:
                raise MalformedRow(f"the row {where} has {name} {values[name]!r}, not an amount")
            return value

        sessions = count("sessions")
        key_event_sessions = int(
            (number("sessionKeyEventRate") * sessions).quantize(Decimal(1), ROUND_HALF_EVEN)
        )
        revenue, ad_cost = number("purchaseRevenue"), number("advertiserAdCost")
        if (revenue or ad_cost) and not self.currency:
            raise MalformedRow(f"the row {where} has money but the report has no currency")
        ident = external_id(day, group, campaign)
        labels = {"channel": channel_name(group), "campaign": campaign_name(campaign)}
        traffic = {
            "external_id": ident,
            "day": day.isoformat(),
            **labels,
            "sessions": sessions,
            "engaged_sessions": count("engagedSessions"),
            "key_events": count("keyEvents"),
            "key_event_sessions": min(key_event_sessions, sessions),
            "users": count("totalUsers"),
            "revenue_minor": minor_units(revenue, self.currency),
            # The ad cost goes to spend (by campaign); the Spend KPI adds this column to
            # spend, so it stays 0 here or the cost would count twice.
            "ad_cost_minor": 0,
            "currency": self.currency,
        }
        spend = None
        if ad_cost:
            spend = {
                "external_id": ident,
                "spent_on": day.isoformat(),
                **labels,
                "amount_minor": minor_units(ad_cost, self.currency),
                "currency": self.currency,
            }
        return traffic, spend
