"""Money in SQL: minor units, and the one exchange-rate rule every conversion follows.

An amount is converted to the reporting currency at the latest rate of its currency on or
before the amount's day; of two rates of one day (two sources), the latest written wins; a
deleted rate does not count. :func:`rate_on_sql` states that rule, and every conversion
(KPIs through ``money_sql``, the MRR ledger, the payment days) looks rates up through it.
"""

from __future__ import annotations

import datetime as dt

from psycopg import sql

# ISO 4217 minor-unit exponents that are not 2; every other currency has 2 decimals.
CURRENCY_EXPONENTS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip


def literal(value: str) -> str:
    """``value`` as an SQL string literal, quoted by psycopg (company settings such as the
    reporting currency and time zone go into SQL text that is composed once per run)."""
    return sql.Literal(value).as_string()


def minor_units_sql(currency_column: str, common: str = "") -> str:
    """SQL for the number of minor units in one major unit of the currency in
    ``currency_column``, testing the ``common`` currency first. Numeric literals per case:
    this is evaluated for every payment, where ``power()`` and a long CASE add up."""
    by_exponent: dict[int, list[str]] = {}
    for code, exp in sorted(CURRENCY_EXPONENTS.items()):
        by_exponent.setdefault(exp, []).append(literal(code))
    cases = " ".join(
        f"WHEN {currency_column} IN ({', '.join(codes)}) THEN {10**exp}::numeric"
        for exp, codes in sorted(by_exponent.items())
    )
    first = ""
    if common and CURRENCY_EXPONENTS.get(common, 2) == 2:
        first = f"WHEN {currency_column} = {literal(common)} THEN 100::numeric "
    return f"(CASE {first}{cases} ELSE 100::numeric END)"


def major_sql(amount_minor: str, currency: str, reporting_currency: str) -> str:
    """SQL for ``amount_minor`` of ``currency`` in major units of that currency."""
    return f"({amount_minor})::numeric / {minor_units_sql(currency, reporting_currency)}"


def rate_on_sql(currency: str, day: str) -> str:
    """SQL for the rate of ``currency`` on ``day`` (the rule above); NULL when none."""
    return (
        f"(SELECT r.rate FROM data_exchange_rates r WHERE r.currency = {currency} "
        f"AND r.day <= ({day}) AND r.deleted_at IS NULL ORDER BY r.day DESC, r.id DESC LIMIT 1)"
    )


# The temporary table of :func:`create_day_rates`.
DAY_RATES = "_day_rates"


def create_day_rates(cursor, last_day: dt.date) -> dt.date:
    """Create the temporary table :data:`DAY_RATES` (dropped at commit): each currency's
    rate on every day from its first rate to the last day of any rate or ``last_day``,
    whichever is later; return that day, the ``rates_until`` of :func:`day_rate_join_sql`.
    Amounts join it on equality (a hash join) instead of each looking its rate up: a few
    thousand lookups serve millions of payments and segments."""
    cursor.execute(
        "SELECT greatest(max(day), %s) FROM data_exchange_rates WHERE deleted_at IS NULL",
        [last_day],
    )
    until = cursor.fetchone()[0]
    days = """
        SELECT c.currency, d::date AS day
        FROM (SELECT currency, min(day) AS first FROM data_exchange_rates
              WHERE deleted_at IS NULL GROUP BY currency) c,
             generate_series(c.first, %(until)s::date, interval '1 day') d
    """
    cursor.execute(
        f"CREATE TEMPORARY TABLE {DAY_RATES} ON COMMIT DROP AS {day_rates_sql(days)}; "
        f"ANALYZE {DAY_RATES}",
        {"until": until},
    )
    return until


def day_rate_join_sql(alias: str, currency: str, day: str) -> str:
    """``LEFT JOIN`` of :data:`DAY_RATES` as ``alias``, for an amount of ``currency`` on
    ``day``; it takes the query parameter ``rates_until``: a later day has that day's rate,
    the latest there is."""
    return (
        f"LEFT JOIN {DAY_RATES} {alias} ON {alias}.currency = {currency} "
        f"AND {alias}.day = least({day}, %(rates_until)s)"
    )


def day_rates_sql(pairs: str) -> str:
    """SELECT of (currency, day, rate) for the distinct (currency, day) rows of the query
    ``pairs``: one lookup per currency and day, which many amounts then join by hash
    (a year of daily rates serves millions of payments)."""
    return (
        f"SELECT p.currency, p.day, {rate_on_sql('p.currency', 'p.day')} AS rate "
        f"FROM (SELECT DISTINCT currency, day FROM ({pairs}) pairs) p"
    )


def to_reporting_sql(amount_minor: str, currency: str, reporting_currency: str, rate: str) -> str:
    """SQL for ``amount_minor`` of ``currency`` in the reporting currency, given the SQL of
    its ``rate`` (used only for other currencies; NULL rate: NULL amount)."""
    major = major_sql(amount_minor, currency, reporting_currency)
    return (
        f"(CASE WHEN {currency} = {literal(reporting_currency)} THEN {major} "
        f"ELSE {major} * {rate} END)"
    )
