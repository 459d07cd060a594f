"""One customer across sources: a CRM lead and a billing customer with the same e-mail are
one person.

The matching lives in two views (facts migration 0002), always current, so that no write
order can leave them stale:

- :data:`~kpiplatform.sdk.CUSTOMER_LABELS_TABLE`, a customer's labels. Country: the
  customer's own. Channel and campaign, as a pair: the customer's own when it has a
  channel, else those of the lead it came from, else none ("unknown"). The lead it came from
  is the earliest created (then by source and external id) of the leads linked to it: by
  ``customer_ref`` in the customer's own source, or by the same e-mail (compared lower-cased
  and trimmed) in any source.
- :data:`~kpiplatform.sdk.LEAD_CUSTOMERS_TABLE`, the customer a lead became: the customer its
  ``customer_ref`` names in its own source, else the earliest created (then by source and
  external id) of the customers with its e-mail; and when, the earlier of the lead's own
  ``customer_at`` and the start of that customer's first paid day.

Every fact summed per label reads the first view, so a changed match moves the customer's
whole history as any relabel does: triggers on the customers (a changed e-mail) and on the
leads (a lead written, changed or removed) record the customers concerned, and
:mod:`kpiplatform.facts.refresh` rebuilds their days. The lead KPIs read the second view;
:func:`first_changed_lead_day` says from which day they move when customers changed.
"""

from __future__ import annotations

import datetime as dt

from kpiplatform.facts.customer_facts import CUSTOMER_SCOPE


def first_changed_lead_day(cursor) -> dt.date | None:
    """The first UTC day (less one, for any time zone) on which a lead was created whose
    customer may have changed: a lead matching one of the customers whose facts or labels
    the refresh recomputed (the customer scope), by e-mail or by ``customer_ref``; removed
    leads and customers included, whose match ended."""
    cursor.execute(
        f"""
        SELECT min(created_at) FROM (
            SELECT l.created_at FROM {CUSTOMER_SCOPE} sc
            JOIN data_customers c ON c.source = sc.source AND c.external_id = sc.customer_ref
            JOIN data_leads l ON btrim(c.email) <> ''
                AND lower(btrim(l.email)) = lower(btrim(c.email))
            UNION ALL
            SELECT l.created_at FROM {CUSTOMER_SCOPE} sc
            JOIN data_leads l ON l.source = sc.source AND l.customer_ref = sc.customer_ref
        ) matched
        """
    )
    first = cursor.fetchone()[0]
    if first is None:
        return None
    return first.astimezone(dt.UTC).date() - dt.timedelta(days=1)
