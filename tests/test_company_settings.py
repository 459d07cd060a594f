"""Company settings: members read them, admins change them (validated), a change recomputes."""

from __future__ import annotations

import pytest

from kpiplatform.kpis.models import CompanySettings


def test_members_read_the_settings(acme):
    response = acme.client("viewer").get("/api/v1/settings/")
    assert response.status_code == 200
    assert set(response.json()) >= {"reporting_currency", "time_zone", "gross_margin"}


def test_only_admins_change_the_settings(acme):
    response = acme.client("analyst").patch(
        "/api/v1/settings/", {"time_zone": "Europe/Paris"}, content_type="application/json"
    )
    assert response.status_code == 403


def test_admin_changes_the_settings(acme, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = acme.client("admin").patch(
            "/api/v1/settings/",
            {"reporting_currency": "eur", "time_zone": "Europe/Paris", "gross_margin": "0.8"},
            content_type="application/json",
        )
    assert response.status_code == 200
    assert response.json()["reporting_currency"] == "EUR"
    assert response.json()["gross_margin"] == "0.8000"
    with acme.activate():
        settings = CompanySettings.current()
    assert (settings.reporting_currency, settings.time_zone) == ("EUR", "Europe/Paris")
    # The change schedules one full recompute once the transaction commits.
    assert len(callbacks) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("reporting_currency", "EURO"),
        ("reporting_currency", "XYZ"),
        ("time_zone", "Mars/Olympus"),
        ("gross_margin", "1.5"),
        ("gross_margin", "-0.1"),
    ],
)
def test_invalid_settings_are_refused_field_by_field(acme, field, value):
    response = acme.client("admin").patch(
        "/api/v1/settings/", {field: value}, content_type="application/json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]


def test_settings_page_saves_for_admins_and_is_closed_to_others(acme):
    admin = acme.client("admin")
    page = admin.get("/settings/")
    assert page.status_code == 200
    assert "Company settings" in page.content.decode()
    saved = admin.post(
        "/settings/",
        {"reporting_currency": "GBP", "time_zone": "Europe/London", "gross_margin": "0.75"},
    )
    assert saved.status_code == 302
    with acme.activate():
        assert CompanySettings.current().reporting_currency == "GBP"
    refused = admin.post(
        "/settings/",
        {"reporting_currency": "GBP", "time_zone": "Nowhere/City", "gross_margin": "0.75"},
    )
    assert refused.status_code == 200
    assert "Not an IANA time zone" in refused.content.decode()
    assert acme.client("viewer").get("/settings/").status_code == 403
