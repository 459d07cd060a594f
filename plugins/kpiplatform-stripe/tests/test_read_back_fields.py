"""The connector reads back only some fields of the invoices it stored (SDK 1.5 ``fields``):
what it derives from them must be exactly what the whole invoices give. Checked over every
subscription and charge of a generated company, so a rule that starts reading a field the
lists leave out fails here."""

from __future__ import annotations

import pytest
from kpiplatform_stripe import mapping, segments
from kpiplatform_stripe.sandbox.generate import generate


@pytest.fixture(scope="module")
def company() -> dict:
    return generate(customers=300, months=12)


def cut(invoice: dict, fields) -> dict:
    return {name: invoice.get(name) for name in fields}


def test_segments_from_the_read_back_fields_equal_those_of_whole_invoices(company):
    prices = {p["id"]: p for p in company["prices"]}
    by_sub: dict[str, list[dict]] = {}
    for invoice in company["invoices"]:
        by_sub.setdefault(mapping.parent_subscription(invoice), []).append(invoice)
    derived = 0
    for sub in company["subscriptions"]:
        invoices = by_sub.get(sub["id"], [])
        whole = segments.derive(sub, invoices, prices)
        read_back = segments.derive(
            sub, [cut(i, segments.INVOICE_FIELDS) for i in invoices], prices
        )
        assert read_back == whole, sub["id"]
        derived += len(whole)
    assert derived > 250  # the company has segments to compare, some several


def test_payments_from_the_read_back_fields_equal_those_of_whole_invoices(company):
    invoices = {i["id"]: i for i in company["invoices"]}
    paid = {p["payment"]["charge"]: p["invoice"] for p in company["invoice_payments"]}
    taxed = 0
    for charge in company["charges"]:
        invoice = invoices.get(paid.get(charge["id"], ""))
        whole = mapping.charge_payment(charge, invoice)
        read_back = mapping.charge_payment(
            charge, invoice and cut(invoice, mapping.INVOICE_FIELDS_OF_PAYMENTS)
        )
        assert read_back == whole, charge["id"]
        taxed += whole["tax_minor"] > 0
    assert taxed > 0  # some invoices carry tax, so the split is exercised
