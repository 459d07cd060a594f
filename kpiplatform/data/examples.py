"""A column template (the CSV header) and an example file (a few valid rows) of each dataset,
as downloaded from the data pages. The examples are those of docs/canonical-data.md ("Import");
a test keeps the two the same and checks that every example imports."""

from __future__ import annotations

from kpiplatform.data import columns as cols

EXAMPLES: dict[str, str] = {
    "customers": (
        "external_id,name,email,country,created_at,channel,campaign\n"
        "cus_001,Initech,billing@initech.example,US,2025-01-14T09:30:00Z,paid_search,winter-sale\n"
        "cus_002,Umbrella,,DE,2025-02-03T16:05:00+01:00,organic,\n"
    ),
    "plans": (
        "external_id,name,interval,interval_count,amount_minor,currency\n"
        "pro_monthly,Pro,month,1,4900,USD\n"
        "pro_yearly,Pro (yearly),year,1,49000,USD\n"
    ),
    "subscriptions": (
        "external_id,customer_ref,plan_ref,status,quantity,trial_start,trial_end,started_at,cancel_requested_at,ended_at\n"
        "sub_001,cus_001,pro_monthly,active,3,,,2025-01-14T09:30:00Z,,\n"
        "sub_002,cus_002,pro_yearly,canceled,1,2025-02-03T15:05:00Z,2025-02-17T15:05:00Z,2025-02-17T15:05:00Z,2025-06-01T08:00:00Z,2026-02-17T15:05:00Z\n"
    ),
    "mrr_segments": (
        "external_id,customer_ref,subscription_ref,plan_ref,starts_on,ends_on,mrr_minor,currency\n"
        "seg_001,cus_001,sub_001,pro_monthly,2025-01-14,2025-04-14,14700,USD\n"
        "seg_002,cus_001,sub_001,pro_monthly,2025-04-14,,19600,USD\n"
    ),
    "payments": (
        "external_id,customer_ref,kind,status,occurred_at,amount_minor,tax_minor,discount_minor,currency,is_order,invoice_ref,order_ref\n"
        "ch_001,cus_001,charge,succeeded,2025-01-14T09:31:00Z,14700,2940,0,USD,false,in_001,\n"
        "re_001,cus_001,refund,succeeded,2025-01-20T10:00:00Z,4900,980,0,USD,false,in_001,\n"
    ),
    "leads": (
        "external_id,email,created_at,lifecycle_stage,customer_at,customer_ref,channel,campaign\n"
        "lead_001,ada@initech.example,2024-12-01T10:00:00Z,customer,2025-01-14T09:30:00Z,cus_001,paid_search,winter-sale\n"
        "lead_002,bob@example.org,2025-01-05T12:00:00-05:00,lead,,,organic,\n"
    ),
    "deals": (
        "external_id,name,amount_minor,currency,stage,status,created_at,closed_at\n"
        "deal_001,Initech expansion,120000,USD,closedwon,won,2025-01-02T09:00:00Z,2025-01-14T09:00:00Z\n"  # noqa: E501
        "deal_002,Umbrella pilot,50000,EUR,proposal,open,2025-02-10T09:00:00Z,\n"
    ),
    "spend": (
        "external_id,spent_on,channel,campaign,amount_minor,currency\n"
        "gads-2025-01,2025-01-31,paid_search,winter-sale,250000,USD\n"
        "li-2025-01,2025-01-31,paid_social,,80000,USD\n"
    ),
    "web_traffic": (
        "external_id,day,channel,campaign,sessions,engaged_sessions,key_events,key_event_sessions,users,revenue_minor,ad_cost_minor,currency\n"
        "2025-01-14/organic,2025-01-14,organic,,1200,800,41,35,950,0,0,USD\n"
        "2025-01-14/paid_search/winter-sale,2025-01-14,paid_search,winter-sale,400,220,15,12,380,0,9100,USD\n"
    ),
    "survey_responses": (
        "external_id,customer_ref,kind,score,scale_min,scale_max,responded_at\n"
        "nps_001,cus_001,nps,9,0,10,2025-03-01T12:00:00Z\n"
        "csat_001,cus_002,csat,4,1,5,2025-03-02T08:15:00+01:00\n"
    ),
    "exchange_rates": (
        "external_id,day,currency,rate\n"
        "EUR-2025-01-01,2025-01-01,EUR,1.0352\n"
        "GBP-2025-01-01,2025-01-01,GBP,1.2515\n"
    ),
}


def template_csv(dataset: str) -> str:
    """Every writable column of ``dataset``, in the order of the model, as a CSV header."""
    return ",".join(column.name for column in cols.columns_of(dataset)) + "\n"


def example_csv(dataset: str) -> str:
    return EXAMPLES[dataset]
