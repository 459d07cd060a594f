"""Customer labels (country, channel, campaign) as facts and KPIs break down by them.

A customer's labels are read from :data:`~kpiplatform.sdk.CUSTOMER_LABELS_TABLE`, not from
the customers themselves: a customer with no channel of its own takes the channel and
campaign of the lead it came from, in any source (:mod:`kpiplatform.facts.identity`).
"""

from kpiplatform.sdk import CUSTOMER_LABELS_TABLE

# The label of records whose customer has no country, channel or campaign (or no record).
UNKNOWN_LABEL = "unknown"


def label_sql(column: str) -> str:
    """SQL for a customer label: the text of ``column``, or ``unknown`` when empty or NULL."""
    return f"coalesce(nullif({column}, ''), '{UNKNOWN_LABEL}')"


def labels_join_sql(rows: str, alias: str = "c") -> str:
    """``LEFT JOIN`` of the customer labels, as ``alias``, to the rows aliased ``rows``
    (which have ``source`` and ``customer_ref``); no row for a customer not (or no longer)
    in the customers."""
    return (
        f"LEFT JOIN {CUSTOMER_LABELS_TABLE} {alias} "
        f"ON {alias}.source = {rows}.source AND {alias}.customer_ref = {rows}.customer_ref"
    )
