"""HubSpot CRM objects to canonical records (docs/canonical-data.md; docs/connectors.md says
the rules in words)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

# The object types read, each with its canonical dataset and the properties asked for.
LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
# A contact is a lead from its lead date; one that skipped the stage (set straight to a later
# one) from the first later stage it reached. Subscribers and "other" are not leads.
LEAD_OR_LATER = (
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
)
SOURCE_PROPERTIES = (
    "hs_analytics_source",
    "hs_analytics_source_data_1",
    "hs_analytics_source_data_2",
)
PROPERTIES = {
    "contacts": (
        "email",
        "lifecyclestage",
        *SOURCE_PROPERTIES,
        *(f"hs_lifecyclestage_{stage}_date" for stage in LIFECYCLE_STAGES),
    ),
    "deals": (
        "dealname",
        "amount",
        "deal_currency_code",
        "dealstage",
        "pipeline",
        "closedate",
        "hs_is_closed_won",
        "hs_is_closed",
    ),
    "feedback_submissions": ("hs_survey_type", "hs_value", "hs_contact_id"),
}
DATASETS = {"contacts": "leads", "deals": "deals", "feedback_submissions": "survey_responses"}

# Original source -> (channel, the drill-down holding the campaign, or None). HubSpot puts
# the utm campaign in drill-down 1 for paid search, e-mail and other campaigns, and in
# drill-down 2 for paid social (drill-down 1 is the network there); organic search, social,
# referrals, direct and offline have no campaign (their drill-downs are engines, networks,
# domains, pages and import kinds).
CHANNELS = {
    "ORGANIC_SEARCH": ("organic", None),
    "PAID_SEARCH": ("paid_search", "hs_analytics_source_data_1"),
    "PAID_SOCIAL": ("paid_social", "hs_analytics_source_data_2"),
    "EMAIL_MARKETING": ("email", "hs_analytics_source_data_1"),
    "SOCIAL_MEDIA": ("social", None),
    "REFERRALS": ("referral", None),
    "AI_REFERRALS": ("referral", None),
    "DIRECT_TRAFFIC": ("direct", None),
    "OTHER_CAMPAIGNS": ("other_campaigns", "hs_analytics_source_data_1"),
    "OFFLINE": ("offline", None),
}
# Survey types read, with their scale; HubSpot's customer effort (CES) has no KPI.
SURVEYS = {"NPS": ("nps", 0, 10), "CSAT": ("csat", 1, 5)}
# Currencies whose minor unit is not a hundredth (ISO 4217 exponents).
ZERO_DECIMAL = {
    "BIF",
    "CLP",
    "DJF",
    "GNF",
    "ISK",
    "JPY",
    "KMF",
    "KRW",
    "PYG",
    "RWF",
    "UGX",
    "UYI",
    "VND",
    "VUV",
    "XAF",
    "XOF",
    "XPF",
}
THREE_DECIMAL = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}


class MalformedObject(ValueError):
    """A HubSpot object whose properties cannot be read (the sync fails with the reason)."""


def moment(value: str | None) -> str | None:
    """A HubSpot date property (ISO 8601 or epoch milliseconds) as ISO 8601 with offset."""
    if value in (None, ""):
        return None
    text = str(value)
    try:
        if text.isdigit():
            return dt.datetime.fromtimestamp(int(text) / 1000, dt.UTC).isoformat()
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedObject(f"{text!r} is not a date") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.isoformat()


def lead(contact) -> dict | None:
    """The lead of a contact, or None when it never reached the lead stage."""
    p = contact.properties or {}
    reached = [moment(p.get(f"hs_lifecyclestage_{stage}_date")) for stage in LEAD_OR_LATER]
    reached = [at for at in reached if at]
    if not reached:
        return None
    lead_at = moment(p.get("hs_lifecyclestage_lead_date")) or min(
        reached, key=dt.datetime.fromisoformat
    )
    channel, campaign_property = CHANNELS.get(p.get("hs_analytics_source") or "", ("", None))
    if not channel and p.get("hs_analytics_source"):
        channel = str(p["hs_analytics_source"]).lower()
    campaign = (p.get(campaign_property) or "") if campaign_property else ""
    return {
        "external_id": str(contact.id),
        "email": (p.get("email") or "").strip()[:255],
        "created_at": lead_at,
        "lifecycle_stage": (p.get("lifecyclestage") or "")[:64],
        "customer_at": moment(p.get("hs_lifecyclestage_customer_date")),
        "channel": channel[:100],
        "campaign": campaign[:255],
    }


def deal(record) -> dict:
    p = record.properties or {}
    won = str(p.get("hs_is_closed_won") or "").lower() == "true"
    closed = str(p.get("hs_is_closed") or "").lower() == "true" or won
    status = "won" if won else "lost" if closed else "open"
    currency = (p.get("deal_currency_code") or "").upper() or None
    return {
        "external_id": str(record.id),
        "name": (p.get("dealname") or "")[:255],
        "amount_minor": _minor(p.get("amount"), currency),
        "currency": currency,
        "stage": (p.get("dealstage") or "")[:64],
        "status": status,
        "created_at": moment(p.get("createdate")) or moment(_iso(record.created_at)),
        "closed_at": moment(p.get("closedate")) if closed else None,
    }


def survey_response(record) -> dict | None:
    """The response of a feedback submission, or None for a survey type with no KPI."""
    p = record.properties or {}
    survey = SURVEYS.get(str(p.get("hs_survey_type") or "").upper())
    if survey is None or p.get("hs_value") in (None, ""):
        return None
    kind, low, high = survey
    try:
        score = int(Decimal(str(p["hs_value"])))
    except InvalidOperation:
        raise MalformedObject(f"feedback {record.id}: {p['hs_value']!r} is not a score") from None
    return {
        "external_id": str(record.id),
        "kind": kind,
        "score": score,
        "scale_min": low,
        "scale_max": high,
        "responded_at": moment(p.get("hs_createdate")) or moment(_iso(record.created_at)),
    }


def canonical(object_type: str, record) -> dict | None:
    return {"contacts": lead, "deals": deal, "feedback_submissions": survey_response}[object_type](
        record
    )


def _minor(amount: str | None, currency: str | None) -> int:
    if amount in (None, ""):
        return 0
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise MalformedObject(f"{amount!r} is not an amount") from None
    exponent = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    return int((value * 10**exponent).to_integral_value())


def _iso(value) -> str | None:
    return value.isoformat() if isinstance(value, dt.datetime) else value
