"""/api/v1/plugins/ and the /plugins/ page, with broken plugins installed next to good ones.

The test environment installs the fixture plugins of tests/fixtures/plugins/ (dev group).
"""

from __future__ import annotations

import pytest

from kpiplatform import plugins
from kpiplatform.sdk import SDK_VERSION

EXAMPLE = "kpiplatform-example"
BUILT_IN = "kpiplatform-kpis"


def listed(company, role: str = "viewer") -> dict[str, dict]:
    response = company.client(role).get("/api/v1/plugins/")
    assert response.status_code == 200
    return {plugin["name"]: plugin for plugin in response.json()}


def test_every_installed_plugin_is_listed_with_its_state_and_what_it_provides(acme):
    body = listed(acme)
    assert body[BUILT_IN]["tier"] == "essential"
    assert body[BUILT_IN]["state"] == "ok"
    example = body[EXAMPLE]
    assert (example["version"], example["tier"], example["state"]) == ("0.1.0", "default", "ok")
    assert example["enabled"] is True
    assert example["kpis"] == ["example_days"]
    assert example["notification_channels"] == ["example_memory"]
    assert example["error"] == ""


def test_a_plugin_that_fails_to_import_is_reported_broken_and_the_rest_still_work(acme):
    body = listed(acme)
    broken = body["kpiplatform-broken-import"]
    assert broken["state"] == "broken"
    assert "cannot be imported (on purpose)" in broken["error"]
    assert broken["problems"][0]["hook"] == "import"
    assert broken["kpis"] == []
    assert body[EXAMPLE]["kpis"] == ["example_days"]


def test_a_plugin_whose_register_hook_raises_is_reported_with_the_hook_and_keeps_the_rest(acme):
    broken = listed(acme)["kpiplatform-broken-hook"]
    assert broken["state"] == "broken"
    assert broken["problems"][0]["hook"] == "register_kpis"
    assert "register_kpis of kpiplatform-broken-hook always fails" in broken["error"]
    # Its other hook worked, so its connector is available.
    assert broken["connectors"] == ["broken_hook_source"]
    with acme.activate():
        assert plugins.connectors()["broken_hook_source"][0] == "kpiplatform-broken-hook"


def test_a_plugin_for_another_sdk_is_not_loaded_and_says_how_to_fix_it(acme):
    incompatible = listed(acme)["kpiplatform-incompatible"]
    assert incompatible["state"] == "incompatible"
    assert incompatible["sdk_supports"] == ">=2,<3"
    assert f"provides SDK {SDK_VERSION}" in incompatible["error"]
    assert (
        f"Install a version of kpiplatform-incompatible that supports SDK {SDK_VERSION}"
        in (incompatible["fix"])
    )
    with acme.activate():
        assert "future_kpi" not in plugins.kpis()


def test_a_duplicate_kpi_key_stays_with_the_first_plugin_and_is_an_error_of_the_second(acme):
    copycat = listed(acme)["kpiplatform-example-copycat"]
    assert copycat["kpis"] == ["copycat_constant"]
    assert copycat["problems"][0]["hook"] == "register_kpis"
    assert "'example_days' is already provided by kpiplatform-example" in copycat["error"]
    with acme.activate():
        registered = plugins.kpis()
    assert registered["example_days"][0] == EXAMPLE
    assert registered["copycat_constant"][0] == "kpiplatform-example-copycat"


def test_plugins_page_renders_for_admins_with_broken_plugins_and_their_errors(acme):
    page = acme.client("admin").get("/plugins/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "kpiplatform-broken-import" in html
    assert "cannot be imported (on purpose)" in html
    assert "register_kpis" in html
    assert "example_days" in html
    assert "Always on" in html  # the essential built-in KPI library


def test_disabling_a_plugin_in_acme_leaves_globex_untouched(acme, globex):
    response = acme.client("admin").patch(
        f"/api/v1/plugins/{EXAMPLE}/", {"enabled": False}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["enabled"] is False

    assert listed(acme)[EXAMPLE]["enabled"] is False
    assert listed(globex)[EXAMPLE]["enabled"] is True
    with acme.activate():
        assert "example_days" not in plugins.kpis()
        assert "example_memory" not in plugins.notification_channels()
    with globex.activate():
        assert plugins.kpis()["example_days"][0] == EXAMPLE

    response = acme.client("admin").patch(
        f"/api/v1/plugins/{EXAMPLE}/", {"enabled": True}, content_type="application/json"
    )
    assert response.json()["enabled"] is True
    with acme.activate():
        assert "example_days" in plugins.kpis()


def test_an_essential_plugin_cannot_be_disabled(acme):
    response = acme.client("admin").patch(
        f"/api/v1/plugins/{BUILT_IN}/", {"enabled": False}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "kpiplatform-kpis is an essential plugin and cannot be disabled."
    )
    assert listed(acme)[BUILT_IN]["enabled"] is True


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_only_admins_switch_plugins(acme, role):
    client = acme.client(role)
    response = client.patch(
        f"/api/v1/plugins/{EXAMPLE}/", {"enabled": False}, content_type="application/json"
    )
    assert response.status_code == 403
    assert client.get("/plugins/").status_code == 403
    assert client.post(f"/plugins/{EXAMPLE}/switch/", {"enabled": "0"}).status_code == 403
    assert listed(acme)[EXAMPLE]["enabled"] is True


def test_switching_an_unknown_plugin_is_not_found(acme):
    response = acme.client("admin").patch(
        "/api/v1/plugins/no-such-plugin/", {"enabled": False}, content_type="application/json"
    )
    assert response.status_code == 404


def test_admin_disables_and_enables_a_plugin_from_the_page(acme):
    client = acme.client("admin")
    response = client.post(f"/plugins/{EXAMPLE}/switch/", {"enabled": "0"})
    assert response.status_code == 302
    page = client.get("/plugins/").content.decode()
    assert f"{EXAMPLE} is now disabled." in page
    with acme.activate():
        assert "example_days" not in plugins.kpis()

    client.post(f"/plugins/{EXAMPLE}/switch/", {"enabled": "1"})
    with acme.activate():
        assert "example_days" in plugins.kpis()


def test_the_page_refuses_to_disable_an_essential_plugin(acme):
    client = acme.client("admin")
    client.post(f"/plugins/{BUILT_IN}/switch/", {"enabled": "0"})
    page = client.get("/plugins/").content.decode()
    assert "kpiplatform-kpis is an essential plugin and cannot be disabled." in page
    with acme.activate():
        assert BUILT_IN in plugins.enabled_plugin_names()
