"""Alert channels, rules and events through the API: roles, refused targets, validation and
company isolation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import WORKED_EXAMPLE_SEGMENTS, configure_company, recompute_all

JSON = "application/json"


def _post(client, path, body):
    return client.post(path, body, content_type=JSON)


def _webhook(url="https://hooks.example.com/kpi"):
    return {
        "name": "Ops hook",
        "kind": "webhook",
        "config": {"url": url},
        "secrets": {"secret": "s3"},
    }


@pytest.fixture
def allow_private(settings):
    settings.KPI_ALERTS_ALLOW_PRIVATE_TARGETS = True


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:8080/hook", "127.0.0.1, a loopback address"),
        ("http://localhost/hook", "a loopback address"),
        ("http://10.1.2.3/hook", "10.1.2.3, a private address"),
        ("http://192.168.0.10/hook", "a private address"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254, a link-local address"),
        ("http://[::1]/hook", "a loopback address"),
        ("http://[::ffff:10.0.0.1]/hook", "a private address"),
        ("ftp://example.com/hook", "must start with http:// or https://"),
        ("http://user:pw@example.com/", "must not contain a user name or password"),
    ],
)
def test_a_webhook_to_a_private_address_is_refused_with_a_message(acme, url, message):
    response = _post(acme.client("analyst"), "/api/v1/alerts/channels/", _webhook(url))
    assert response.status_code == 400
    assert message in response.json()["error"]["fields"]["config"][0]
    slack = {"name": "Slack", "kind": "slack", "secrets": {"url": url}}
    refused = _post(acme.client("analyst"), "/api/v1/alerts/channels/", slack)
    assert refused.status_code == 400
    assert message in refused.json()["error"]["message"]


def test_the_operator_setting_allows_private_receivers(acme, allow_private):
    response = _post(
        acme.client("analyst"), "/api/v1/alerts/channels/", _webhook("http://127.0.0.1:9/h")
    )
    assert response.status_code == 201, response.content
    body = response.json()
    # The signing secret is stored, never returned.
    assert body["secrets_set"] == ["secret"] and "secrets" not in body
    assert body["config"] == {"url": "http://127.0.0.1:9/h"}


def test_channel_types_include_the_built_in_ones_and_a_plugins(acme):
    types = acme.client("analyst").get("/api/v1/alerts/channel-types/").json()
    by_key = {t["key"]: t for t in types}
    assert {"email", "webhook", "slack", "example_memory"} <= set(by_key)
    assert by_key["example_memory"]["plugin"] == "kpiplatform-example"
    assert [f["name"] for f in by_key["webhook"]["config_fields"]] == ["url", "secret"]


def test_channel_validation_messages(acme):
    client = acme.client("analyst")
    unknown = _post(client, "/api/v1/alerts/channels/", {"name": "x", "kind": "pigeon"})
    assert unknown.status_code == 400
    assert "No channel type 'pigeon'" in unknown.json()["error"]["message"]
    missing = _post(
        client,
        "/api/v1/alerts/channels/",
        {"name": "x", "kind": "webhook", "config": {"url": "https://hooks.example.com/"}},
    )
    assert missing.status_code == 400
    assert missing.json()["error"]["fields"]["secrets"] == ["secret: required (Signing secret)."]
    bad_mail = _post(
        client,
        "/api/v1/alerts/channels/",
        {"name": "m", "kind": "email", "config": {"recipients": "a@b.test, nope"}},
    )
    assert bad_mail.status_code == 400
    assert "'nope' is not an e-mail address." in bad_mail.json()["error"]["message"]


def _email_channel(client):
    response = _post(
        client,
        "/api/v1/alerts/channels/",
        {"name": "Team mail", "kind": "email", "config": {"recipients": "ops@acme.test"}},
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_viewers_read_rules_and_events_but_cannot_change_them(acme):
    viewer, analyst = acme.client("viewer"), acme.client("analyst")
    channel = _email_channel(analyst)
    body = {
        "name": "MRR low",
        "kpi_key": "mrr",
        "grain": "month",
        "condition": "below",
        "threshold": "100",
        "channels": [channel],
    }
    refused = _post(viewer, "/api/v1/alerts/rules/", body)
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "This needs the Analyst role."
    assert _post(viewer, "/api/v1/alerts/channels/", _webhook()).status_code == 403
    created = _post(analyst, "/api/v1/alerts/rules/", body)
    assert created.status_code == 201, created.content
    rule = created.json()
    assert (rule["threshold"], rule["channels"], rule["firing"]) == ("100", [channel], False)
    assert [r["id"] for r in viewer.get("/api/v1/alerts/rules/").json()] == [rule["id"]]
    assert viewer.get("/api/v1/alerts/events/").status_code == 200
    assert (
        viewer.patch(
            f"/api/v1/alerts/rules/{rule['id']}/", {"muted": True}, content_type=JSON
        ).status_code
        == 403
    )
    admin = acme.client("admin")
    muted = admin.patch(
        f"/api/v1/alerts/rules/{rule['id']}/",
        {"muted": True, "snoozed_until": "2030-01-01T00:00:00Z"},
        content_type=JSON,
    )
    assert muted.status_code == 200
    assert (muted.json()["muted"], muted.json()["snoozed_until"]) == (True, "2030-01-01T00:00:00Z")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"kpi_key": "nope"}, "kpi_key", "No KPI with key 'nope'"),
        ({"grain": "hour"}, "grain", "Use one of day, week"),
        (
            {"segment_kind": "planet", "segment_value": "mars"},
            "segment_kind",
            "not broken down by 'planet'",
        ),
        ({"condition": "sideways"}, "condition", "Use one of above, below"),
        ({"threshold": None}, "threshold", "This condition needs a number."),
        ({"condition": "change_percent", "threshold": "-5"}, "threshold", "0 or more"),
    ],
)
def test_a_rule_of_an_unknown_kpi_grain_segment_or_condition_is_refused(
    acme, change, field, message
):
    body = {
        "name": "r",
        "kpi_key": "mrr",
        "grain": "month",
        "condition": "above",
        "threshold": "1",
        **change,
    }
    response = _post(acme.client("analyst"), "/api/v1/alerts/rules/", body)
    assert response.status_code == 400
    assert message in response.json()["error"]["fields"][field][0]


def test_a_new_rule_that_already_holds_fires_at_once_and_its_event_lists_the_delivery(acme):
    with acme.activate():
        configure_company("EUR", "UTC", "1")
        load_records("mrr_segments", WORKED_EXAMPLE_SEGMENTS)
        recompute_all()
    analyst = acme.client("analyst")
    channel = _email_channel(analyst)
    body = {
        "name": "MRR over 300",
        "kpi_key": "mrr",
        "grain": "month",
        "condition": "above",
        "threshold": "300",
        "channels": [channel],
    }
    rule = _post(analyst, "/api/v1/alerts/rules/", body).json()
    assert rule["firing"] is True
    events = (
        acme.client("viewer").get(f"/api/v1/alerts/events/?rule={rule['id']}").json()["results"]
    )
    assert [(e["kind"], e["value"], e["rule_name"]) for e in events] == [
        ("fired", "320", "MRR over 300")
    ]
    (delivery,) = events[0]["deliveries"]
    assert (delivery["channel"], delivery["status"], delivery["log"]) == (channel, "pending", [])
    bad = acme.client("viewer").get("/api/v1/alerts/events/?rule=x")
    assert bad.status_code == 400


def test_rules_channels_and_events_of_one_company_are_invisible_to_another(acme, globex):
    from kpiplatform.alerts.delivery import deliver
    from kpiplatform.alerts.models import Channel, Delivery, Event, Rule

    with globex.activate():
        channel = Channel.objects.create(
            name="globex mail", kind="email", config={"recipients": "x@globex.test"}
        )
        rule = Rule.objects.create(
            name="globex rule", kpi_key="mrr", condition="above", threshold=Decimal(1)
        )
        rule.channels.add(channel)
        event = Event.objects.create(
            rule=rule,
            kind="fired",
            period_start="2025-01-01",
            period_end="2025-02-01",
            subject="s",
            body="b",
        )
        delivery = Delivery.objects.create(event=event, channel=channel, channel_name=channel.name)
    client = acme.client("admin")
    assert client.get("/api/v1/alerts/rules/").json() == []
    assert client.get("/api/v1/alerts/channels/").json() == []
    assert client.get("/api/v1/alerts/events/").json()["results"] == []
    for path in (f"rules/{rule.id}/", f"channels/{channel.id}/", f"events/{event.id}/"):
        assert client.get(f"/api/v1/alerts/{path}").status_code == 404
    # A rule of acme cannot point at globex's channel.
    body = {
        "name": "r",
        "kpi_key": "mrr",
        "grain": "month",
        "condition": "above",
        "threshold": "1",
        "channels": [channel.id],
    }
    refused = _post(client, "/api/v1/alerts/rules/", body)
    assert refused.status_code == 400 and "channels" in refused.json()["error"]["fields"]
    # A delivery task run for acme with globex's delivery id reads acme's table only.
    with acme.activate():
        assert deliver(delivery.id, 1) == "skipped"
    with globex.activate():
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("pending", 0)


def test_channel_secrets_are_re_encrypted_with_the_first_key_on_rotation(
    acme, settings, allow_private
):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    from kpiplatform.alerts.models import Channel

    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.KPI_SECRET_KEYS = [old_key]
    body = {"name": "Slack", "kind": "slack", "secrets": {"url": "http://127.0.0.1:9/x"}}
    created = _post(acme.client("analyst"), "/api/v1/alerts/channels/", body)
    assert created.status_code == 201, created.content
    settings.KPI_SECRET_KEYS = [new_key, old_key]
    call_command("rotate_alert_secrets")
    settings.KPI_SECRET_KEYS = [new_key]
    with acme.activate():
        channel = Channel.objects.get(pk=created.json()["id"])
        assert channel.secret_values() == {"url": "http://127.0.0.1:9/x"}
        # Nothing secret is in the plain configuration.
        assert channel.config == {}
