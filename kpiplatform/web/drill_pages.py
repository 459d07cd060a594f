"""The drill-down pages (``/kpis/<key>/drill/``) and the customer page
(``/customers/<source>/<external_id>/``): what :mod:`kpiplatform.kpis.drill` and
:mod:`kpiplatform.kpis.customer_profile` find, as tables whose customers link to their page.

The query parameters are the API's (``kpiplatform/kpis/drill.py``), so a page's address and
its CSV download (the API's ``drill.csv``) carry the same question.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode

from kpiplatform.kpis.customer_profile import CustomerNotFound, customer_profile
from kpiplatform.kpis.drill import (
    DRILLS,
    KIND_LABELS,
    MOVEMENT_KINDS,
    MOVEMENTS_KEY,
    DrillError,
    DrillResult,
    UnknownDrill,
    open_drill,
    parse_request,
)
from kpiplatform.kpis.drill_lists import LISTS
from kpiplatform.kpis.registry import registered_kpis_by_plugin
from kpiplatform.sdk import Grain
from kpiplatform.web.templatetags.kpi_format import kpi_number, kpi_value

MOVEMENTS_TITLE = "MRR movements"


def drill_url(key: str, **query) -> str:
    """The drill page of ``key`` for ``query`` (period, grain, list, kind, segment...)."""
    query = {name: value for name, value in query.items() if value not in ("", None)}
    return reverse("kpi-drill", args=[key]) + ("?" + urlencode(query) if query else "")


def has_drill(key: str) -> bool:
    return key in DRILLS


def _money(value, currency: str) -> str:
    return kpi_value(value, "currency", currency)


def _customer_cell(row: dict) -> dict:
    if not row.get("customer_ref"):
        return {"text": "(no customer)"}
    name = row.get("name") or row["customer_ref"]
    label = name if name == row["customer_ref"] else f"{name} ({row['customer_ref']})"
    return {
        "text": label,
        "href": reverse("customer", args=[row["source"], row["customer_ref"]]),
        "data": row["customer_ref"],
    }


def _table(result: DrillResult) -> tuple[list[str], list[list[dict]]]:
    """Headers and cells of the list, formatted for reading (the CSV keeps exact values)."""
    name, currency = result.request.list_name, result.currency

    def money(value) -> dict:
        return {"text": _money(value, currency), "class": "number"}

    def text(value) -> dict:
        return {"text": "" if value is None else str(value)}

    if name == "movements":
        headers = ["Customer", "Day", "Kind", "Amount", "MRR before", "MRR after"]
        if result.request.segment_kind == "plan":
            headers.insert(1, "Plan")
        rows = []
        for row in result.rows:
            cells = [
                _customer_cell(row),
                text(row["day"].isoformat()),
                {"text": KIND_LABELS[row["kind"]], "data": row["kind"]},
                money(row["amount"]) | {"data": str(row["amount"])},
                money(row["mrr_before"]),
                money(row["mrr_after"]),
            ]
            if result.request.segment_kind == "plan":
                cells.insert(1, text(row["plan"]))
            rows.append(cells)
        return headers, rows
    if name in ("active_customers", "start_customers"):
        headers = ["Customer", "MRR", "Last change", "Country", "Channel"]
        rows = [
            [
                _customer_cell(row),
                money(row["mrr"]),
                text(row["last_change"].isoformat()),
                text(row["country"]),
                text(row["channel"]),
            ]
            for row in result.rows
        ]
        return headers, rows
    if name in ("new_customers", "acquired_customers"):
        headers = [
            "Customer",
            "First paid day",
            "Revenue to date",
            "Country",
            "Channel",
            "Campaign",
        ]
        rows = [
            [
                _customer_cell(row),
                text(row["first_paid_day"].isoformat()),
                money(row["revenue_to_date"]),
                text(row["country"]),
                text(row["channel"]),
                text(row["campaign"]),
            ]
            for row in result.rows
        ]
        return headers, rows
    if name in ("payments", "orders"):
        headers = ["Payment", "Customer", "Day", "Kind", "Original amount", "Amount"]
        rows = []
        for row in result.rows:
            kind = row["kind"] + (" (order)" if row["is_order"] else "")
            amount = (
                {"text": "left out: no exchange rate", "class": "muted"}
                if row["amount"] is None
                else money(-row["amount"] if row["kind"] == "refund" else row["amount"])
            )
            rows.append(
                [
                    text(f"{row['source']}:{row['external_id']}"),
                    _customer_cell(row),
                    text(row["day"].isoformat()),
                    text(kind),
                    text(f"{row['currency']} {kpi_number(row['original'])}"),
                    amount,
                ]
            )
        return headers, rows
    if name == "spend":
        headers = ["Entry", "Day", "Channel", "Campaign", "Original amount", "Amount"]
        rows = [
            [
                text(f"{row['dataset']} {row['source']}:{row['external_id']}"),
                text(row["day"].isoformat()),
                text(row["channel"] or "unknown"),
                text(row["campaign"] or "unknown"),
                text(f"{row['currency']} {kpi_number(row['original'])}"),
                {"text": "left out: no exchange rate", "class": "muted"}
                if row["amount"] is None
                else money(row["amount"]),
            ]
            for row in result.rows
        ]
        return headers, rows
    # Leads.
    headers = ["Lead", "Created", "Channel", "Campaign", "Customer"]
    rows = [
        [
            text(f"{row['source']}:{row['external_id']} {row['email']}".strip()),
            text(row["day"].isoformat()),
            text(row["channel"]),
            text(row["campaign"]),
            _customer_cell(row)
            if row["converted"] and row["customer_ref"]
            else text("became a customer" if row["converted"] else "not yet"),
        ]
        for row in result.rows
    ]
    return headers, rows


def _totals_text(result: DrillResult) -> str:
    totals, currency, name = result.totals, result.currency, result.request.list_name
    count = totals["count"]
    if name == "movements":
        return (
            f"{count} movement{'s' * (count != 1)}, summing to {_money(totals['amount'], currency)}"
        )
    if name in ("active_customers", "start_customers"):
        return f"{count} customer{'s' * (count != 1)} with {_money(totals['mrr'], currency)} MRR"
    if name in ("new_customers", "acquired_customers"):
        revenue = _money(totals["revenue_to_date"], currency)
        return f"{count} customer{'s' * (count != 1)}, revenue to date {revenue}"
    if name in ("payments", "orders"):
        text = (
            f"{count} payment{'s' * (count != 1)}: revenue {_money(totals['net'], currency)}, "
            f"gross {_money(totals['charged'], currency)}, {totals['orders']} order"
            f"{'s' * (totals['orders'] != 1)} worth {_money(totals['order_amount'], currency)}"
        )
        if totals["left_out"]:
            text += f"; {totals['left_out']} left out for want of an exchange rate"
        return text
    if name == "spend":
        text = f"{count} entr{'ies' if count != 1 else 'y'}, {_money(totals['amount'], currency)}"
        if totals["left_out"]:
            text += f"; {totals['left_out']} left out for want of an exchange rate"
        return text
    return f"{count} lead{'s' * (count != 1)}, {totals['converted']} of them customers now"


def _title(key: str) -> tuple[str, object]:
    if key == MOVEMENTS_KEY:
        return MOVEMENTS_TITLE, None
    kpis = registered_kpis_by_plugin()
    kpi, _ = kpis[key]
    return kpi.name, kpi


@login_required
def kpi_drill(request, key: str):
    """The records behind one KPI's number in one period (see the module docstring)."""
    try:
        drill_request = parse_request(key, request.GET)
    except UnknownDrill as error:
        raise Http404(str(error)) from None
    except DrillError as error:
        return render(
            request,
            "web/drill_error.html",
            {"key": key, "field": error.field, "message": error.message},
            status=400,
        )
    result = open_drill(drill_request)
    title, kpi = _title(key)
    headers, rows = _table(result)
    period = drill_request.period
    base = {
        "period": period.start.isoformat(),
        "grain": drill_request.grain.value,
        "list": drill_request.list_name,
        "kind": drill_request.kind,
        "segment_kind": drill_request.segment_kind,
        "segment": drill_request.segment,
    }

    def link(**changes) -> str:
        return drill_url(key, **{**base, **changes})

    kpi_key = "net_new_mrr" if key == MOVEMENTS_KEY else key
    drill_list = LISTS[drill_request.list_name]
    reconciliation = None
    if result.reconciliation:
        rec = result.reconciliation
        reconciliation = [
            {
                "label": "MRR at the start",
                "amount": rec.mrr_start,
                "stored": rec.stored["mrr_start"],
                "sign": "",
            },
            *(
                {
                    "label": KIND_LABELS[kind],
                    "kind": kind,
                    "amount": rec.movements[kind],
                    "count": rec.customers[kind],
                    "stored": rec.stored[kind],
                    "sign": "+",
                    "href": drill_url(
                        key, **{**base, "list": "movements", "kind": kind, "page": ""}
                    ),
                }
                for kind in MOVEMENT_KINDS
            ),
            {
                "label": "MRR at the end",
                "amount": rec.mrr_end,
                "stored": rec.stored["mrr_end"],
                "sign": "=",
            },
        ]
    page = drill_request.page
    csv_query = {k: v for k, v in base.items() if v}
    context = {
        "key": key,
        "title": title,
        "kpi": kpi,
        "kpi_url": reverse("kpi", args=[kpi_key]) + f"?grain={drill_request.grain.value}",
        "result": result,
        "period": period,
        "list_title": drill_list.title,
        "headers": headers,
        "rows": rows,
        "totals_text": _totals_text(result),
        "currency": result.currency,
        "reconciliation": reconciliation,
        "matches_stored": result.reconciliation.matches_stored if reconciliation else None,
        "lists": [
            {
                "name": name,
                "title": LISTS[name].title,
                "href": link(
                    list=name, page="", kind=DRILLS[key].kind if name == "movements" else ""
                ),
                "current": name == drill_request.list_name,
            }
            for name in result.drill.lists
        ],
        "kinds": [
            {
                "label": "All kinds",
                "href": link(kind="", page=""),
                "current": not drill_request.kind,
            },
            *(
                {
                    "label": KIND_LABELS[kind],
                    "href": link(kind=kind, page=""),
                    "current": kind == drill_request.kind,
                }
                for kind in MOVEMENT_KINDS
            ),
        ]
        if drill_list.takes_kind
        else [],
        "segment_kinds": drill_list.segment_kinds,
        "segment_values": result.segments,
        "grains": [grain.value for grain in Grain],
        "previous_url": link(period=period.previous().start.isoformat(), page=""),
        "next_url": link(period=period.next().start.isoformat(), page=""),
        "previous_page": link(page=page - 1) if page > 1 else "",
        "next_page": link(page=page + 1) if page < result.pages else "",
        "clear_segment_url": link(segment_kind="", segment="", page=""),
        "csv_url": reverse("api-kpi-drill-csv", args=[key]) + "?" + urlencode(csv_query),
    }
    return render(request, "web/drill.html", context)


@login_required
def customer_page(request, source: str, external_id: str):
    """One customer's segments, movements, payments, leads and source records."""
    try:
        profile = customer_profile(source, external_id)
    except CustomerNotFound as error:
        raise Http404(str(error)) from None
    # Days and moments in ISO 8601, as the data pages show records.
    record_tables = [
        {
            "group": group,
            "rows": [
                {
                    "external_id": row["external_id"],
                    "updated_at": _iso(row["updated_at"]),
                    "cells": [_iso(row[column]) for column in group.columns],
                    "deleted_at": _iso(row["deleted_at"]),
                }
                for row in group.rows
            ],
        }
        for group in profile.records
    ]
    context = {"profile": profile, "currency": profile.currency, "record_tables": record_tables}
    return render(request, "web/customer.html", context)


def _iso(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="minutes")
    return value.isoformat() if isinstance(value, dt.date) else str(value)
