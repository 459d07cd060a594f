"""A realistic GA4 property for the sandbox: two years of daily traffic per channel group and
campaign, with advertiser ad cost on the paid channels.

    python -m kpiplatform_google_analytics.sandbox.generate --out FILE [--seed-number 7]
        [--hubspot-seed FILE] [--end-date YYYY-MM-DD] [--property-id N]
        [--service-account-out FILE]

With ``--hubspot-seed`` (HubSpot CRM objects: ``contacts`` with ``properties.createdate`` and
``properties.hs_analytics_source``, ``hs_analytics_source_data_1``), each day's sessions of a
channel and campaign include many sessions per lead HubSpot recorded there that day, and at
least one session with a key event per lead: the funnel sessions -> leads holds on every day.
The same seed number, end date and HubSpot file give the same file. The sandbox accepts any
service account unless the seed lists some, so ``--service-account-out`` writes a key file
with a fresh key (the one thing not deterministic) without changing the seed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
from collections import Counter
from pathlib import Path

from .report import Property

HISTORY_DAYS = 730
# (channel group, campaign) -> sessions on an ordinary weekday at the start of the history.
BASE_TRAFFIC = {
    ("Organic Search", "(organic)"): 420,
    ("Direct", "(direct)"): 260,
    ("Paid Search", "brand-search"): 90,
    ("Paid Search", "generic-search"): 140,
    ("Organic Social", "(referral)"): 70,
    ("Paid Social", "linkedin-prospecting"): 60,
    ("Referral", "(referral)"): 80,
    ("Email", "newsletter"): 40,
}
# Ad cost per session on the paid channels, in the property's currency.
COST_PER_SESSION = {"Paid Search": (0.9, 2.4), "Paid Social": (1.5, 3.2)}
# HubSpot's original source -> the GA4 default channel group the visit came through.
HUBSPOT_SOURCES = {
    "ORGANIC_SEARCH": "Organic Search",
    "PAID_SEARCH": "Paid Search",
    "SOCIAL_MEDIA": "Organic Social",
    "PAID_SOCIAL": "Paid Social",
    "REFERRALS": "Referral",
    "AI_REFERRALS": "Referral",
    "EMAIL_MARKETING": "Email",
    "DIRECT_TRAFFIC": "Direct",
    "OTHER_CAMPAIGNS": "Paid Other",
}  # OFFLINE leads came through no website visit
PLACEHOLDER_CAMPAIGN = {
    "Organic Search": "(organic)",
    "Direct": "(direct)",
    "Organic Social": "(referral)",
    "Referral": "(referral)",
}
# Channels whose HubSpot drill-down 1 is the campaign GA4 sees (utm_campaign).
CAMPAIGN_CHANNELS = {"Paid Search", "Paid Social", "Email", "Paid Other"}


def _contacts(hubspot: dict) -> list[dict]:
    objects = hubspot.get("objects", hubspot)
    return objects.get("contacts", [])


def _created_day(value: str) -> dt.date | None:
    if not value:
        return None
    if value.isdigit():  # HubSpot also writes epoch milliseconds
        return dt.datetime.fromtimestamp(int(value) / 1000, dt.UTC).date()
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC).date()
    except ValueError:
        return None


def leads_per_day(hubspot: dict) -> Counter:
    """Leads per (day, channel group, campaign) from HubSpot contacts' original source."""
    leads: Counter = Counter()
    for contact in _contacts(hubspot):
        props = contact.get("properties", {})
        group = HUBSPOT_SOURCES.get(props.get("hs_analytics_source") or "")
        day = _created_day(props.get("createdate") or "")
        if not group or not day:
            continue
        campaign = PLACEHOLDER_CAMPAIGN.get(group, "(not set)")
        # HubSpot keeps a paid social campaign in drill-down 2 (drill-down 1 is the network).
        drill_down = (
            "hs_analytics_source_data_2"
            if group == "Paid Social"
            else ("hs_analytics_source_data_1")
        )
        if group in CAMPAIGN_CHANNELS and props.get(drill_down):
            campaign = props[drill_down]
        leads[(day, group, campaign)] += 1
    return leads


def generate(
    seed_number: int = 7,
    end: dt.date | None = None,
    hubspot: dict | None = None,
    property_id: str = "123456789",
) -> dict:
    leads = leads_per_day(hubspot) if hubspot else Counter()
    if end is None:
        end = max((day for day, _, _ in leads), default=dt.datetime.now(dt.UTC).date())
    start = end - dt.timedelta(days=HISTORY_DAYS - 1)
    if leads:
        start = min(start, min(day for day, _, _ in leads))
    combos = dict(BASE_TRAFFIC)
    for _, group, campaign in sorted(leads):
        combos.setdefault((group, campaign), 15)
    rng = random.Random(seed_number)
    prop = Property(currency="USD", time_zone="Etc/UTC")
    span = (end - start).days or 1
    for offset in range(span + 1):
        day = start + dt.timedelta(days=offset)
        growth = 1 + 0.6 * offset / span
        weekday = 0.7 if day.weekday() >= 5 else 1.0
        for (group, campaign), base in sorted(combos.items()):
            day_leads = leads.get((day, group, campaign), 0)
            sessions = round(base * growth * weekday * rng.uniform(0.85, 1.15))
            sessions += day_leads * rng.randint(25, 60)
            if sessions == 0:
                continue
            with_key_event = max(day_leads, round(sessions * rng.uniform(0.01, 0.035)))
            engaged = max(with_key_event, round(sessions * rng.uniform(0.5, 0.72)))
            key_events = with_key_event + round(with_key_event * rng.uniform(0, 0.3))
            purchases = int(with_key_event * rng.uniform(0, 0.3))
            low_high = COST_PER_SESSION.get(group)
            cost = round(sessions * rng.uniform(*low_high), 2) if low_high else 0
            prop.set_row(
                day,
                group,
                campaign,
                sessions=sessions,
                engagedSessions=engaged,
                totalUsers=round(sessions * rng.uniform(0.72, 0.9)),
                keyEvents=key_events,
                sessionKeyEventRate=repr(with_key_event / sessions),
                purchaseRevenue=f"{purchases * 49}.00" if purchases else "0",
                advertiserAdCost=f"{cost:.2f}" if cost else "0",
            )
    return {"properties": {property_id: prop.to_seed()}}


def main() -> None:
    parser = argparse.ArgumentParser(description="Generate a GA4 sandbox seed.")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed-number", type=int, default=7)
    parser.add_argument("--hubspot-seed", help="HubSpot sandbox seed: traffic matches its leads")
    parser.add_argument("--end-date", help="last day (default: the last lead's day, or today)")
    parser.add_argument("--property-id", default="123456789")
    parser.add_argument("--service-account-out", help="also write a service-account key file")
    args = parser.parse_args()
    hubspot = json.loads(Path(args.hubspot_seed).read_text()) if args.hubspot_seed else None
    end = dt.date.fromisoformat(args.end_date) if args.end_date else None
    seed = generate(args.seed_number, end, hubspot, args.property_id)
    Path(args.out).write_text(json.dumps(seed, separators=(",", ":")))
    if args.service_account_out:
        from . import new_service_account

        info, _ = new_service_account()
        Path(args.service_account_out).write_text(json.dumps(info, indent=2))
    rows = len(seed["properties"][args.property_id]["rows"])
    print(f"wrote {rows} report rows to {args.out}")


if __name__ == "__main__":
    main()
