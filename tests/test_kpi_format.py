"""Values are stored exact and rounded only for display, by unit."""

from decimal import Decimal

from kpiplatform.web.templatetags.kpi_format import kpi_change, kpi_value


def test_values_are_shown_by_unit_and_undefined_as_a_dash():
    assert kpi_value(Decimal("1234.565"), "currency", "EUR") == "EUR 1,234.57"
    assert kpi_value(Decimal("0.33333"), "percent") == "33.3 %"
    assert kpi_value(Decimal("-0.14286"), "percent") == "-14.3 %"
    assert kpi_value(Decimal("206"), "count") == "206"
    assert kpi_value(Decimal("4.25"), "months") == "4.3 months"
    assert kpi_value(Decimal("3.456"), "ratio") == "3.46"
    assert kpi_value(Decimal("42"), "score") == "42.0"
    assert kpi_value(None, "currency", "EUR") == "—"


def test_change_says_whether_it_is_good_news_for_the_kpi():
    def row(value):
        return {"value": None if value is None else Decimal(value)}

    assert kpi_change(row("110"), row("100"), "currency", "higher") == {
        "text": "+10.0 %",
        "tone": "good",
    }
    assert kpi_change(row("0.05"), row("0.03"), "percent", "lower") == {
        "text": "+2.0 pts",
        "tone": "bad",
    }
    assert kpi_change(row(None), row("1"), "count", "higher") == {"text": "", "tone": ""}
