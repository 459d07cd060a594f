"""Customer labels (country, channel, campaign) as facts and KPIs break down by them."""

# The label of records whose customer has no country, channel or campaign (or no record).
UNKNOWN_LABEL = "unknown"


def label_sql(column: str) -> str:
    """SQL for a customer label: the text of ``column``, or ``unknown`` when empty or NULL."""
    return f"coalesce(nullif({column}, ''), '{UNKNOWN_LABEL}')"
