"""Every control of every form page has a label, and every form works from the keyboard."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from kpiplatform.testing.companies import PASSWORD

CONTROLS = {"input", "select", "textarea"}
UNLABELLED_INPUT_TYPES = {"hidden", "submit", "button", "reset", "image"}


class FormAudit(HTMLParser):
    """The controls, labels, forms and focusable elements of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.label_targets: set[str] = set()
        self.controls: list[dict] = []  # attrs plus whether a <label> wraps it
        self.forms: list[dict] = []  # {"submits": n, "controls": n}
        self.focusables: list[dict] = []
        self._open_labels = 0
        self._form: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "label":
            self._open_labels += 1
            if attrs.get("for"):
                self.label_targets.add(attrs["for"])
        elif tag == "form":
            self._form = {"submits": 0, "controls": 0, "action": attrs.get("action")}
            self.forms.append(self._form)
        if tag in CONTROLS | {"button", "a"}:
            self.focusables.append({"tag": tag, **attrs})
        if tag in CONTROLS and attrs.get("type") not in UNLABELLED_INPUT_TYPES:
            self.controls.append({"tag": tag, "wrapped": self._open_labels > 0, **attrs})
            if self._form is not None:
                self._form["controls"] += 1
        is_submit = (tag == "button" and attrs.get("type", "submit") == "submit") or (
            tag == "input" and attrs.get("type") in {"submit", "image"}
        )
        if is_submit and self._form is not None:
            self._form["submits"] += 1

    def handle_endtag(self, tag):
        if tag == "label":
            self._open_labels = max(0, self._open_labels - 1)
        elif tag == "form":
            self._form = None


def unlabelled(audit: FormAudit) -> list[dict]:
    return [
        control
        for control in audit.controls
        if not control["wrapped"]
        and control.get("id") not in audit.label_targets
        and not (control.get("aria-label") or "").strip()
        and not control.get("aria-labelledby")
    ]


def audit_page(client: Client, path: str, **extra) -> FormAudit:
    response = client.get(path, **extra)
    assert response.status_code == 200, (path, response.status_code)
    audit = FormAudit()
    audit.feed(response.content.decode())
    return audit


def assert_accessible(audit: FormAudit, where: str) -> None:
    assert not unlabelled(audit), f"{where}: inputs without a label: {unlabelled(audit)}"
    for form in audit.forms:
        # Enter in a field, or Tab to a button and Space, sends it: it needs a submit button.
        assert form["submits"] >= 1, f"{where}: a form without a submit button: {form}"
    for element in audit.focusables:
        tabindex = element.get("tabindex")
        assert tabindex is None or tabindex == "0", f"{where}: {element} is out of tab order"


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/signup/"])
def test_public_pages(path):
    audit = audit_page(Client(), path, HTTP_HOST="localhost:8000")
    assert_accessible(audit, path)
    if path == "/signup/":
        assert len(audit.controls) == 4  # the four signup fields are all checked


@pytest.mark.parametrize("path", ["/login/", "/password-reset/"])
def test_pages_for_visitors(acme, path):
    audit = audit_page(acme.client(None), path)
    assert_accessible(audit, path)
    assert audit.controls, f"{path} has a form"


@pytest.mark.parametrize("role", ["admin", "analyst", "viewer"])
@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/kpis/mrr/",
        "/kpis/churned_mrr/drill/?period=2025-02-01",
        "/data/",
        "/data/spend/",
        "/team/",
        "/tokens/",
        "/plugins/",
        "/settings/",
        "/connections/",
        "/connections/add/listsource/",
        "/reports/",
        "/reports/new/",
    ],
)
def test_member_pages(acme, role, path):
    client = acme.client(role)
    response = client.get(path)
    if response.status_code == 403:  # the page needs a higher role; its own test checks that
        return
    audit = audit_page(client, path)
    assert_accessible(audit, f"{path} as {role}")


def test_the_admin_pages_have_the_forms_this_test_checks(acme):
    client = acme.client("admin")
    counts = {
        path: len(audit_page(client, path).controls)
        for path in ("/team/", "/tokens/", "/data/spend/")
    }
    assert all(counts.values()), counts  # invitation and token forms are audited, not absent
    assert audit_page(client, "/settings/").controls
    # The report form: name, frequency, a box per KPI and per member, addresses, enabled.
    assert len(audit_page(acme.client("analyst"), "/reports/new/").controls) > 10


def test_the_connection_pages_label_every_field_kind(acme, tmp_path):
    from kpiplatform.connectors.models import Connection

    client = acme.client("admin")
    add = audit_page(client, "/connections/add/listsource/")
    # name, the five declared fields (text, secret, text, boolean, choice) and the schedule
    assert len(add.controls) == 7
    with acme.activate():
        created = Connection(connector="listsource", config={"feed": str(tmp_path / "f.json")})
        created.set_secrets({"api_key": "lsk_audit"})
        created.save()
    connection.set_schema_to_public()
    for path in ("", "edit/", "disconnect/"):
        page = f"/connections/{created.pk}/{path}"
        assert_accessible(audit_page(client, page), page)
    assert len(audit_page(client, f"/connections/{created.pk}/disconnect/").controls) == 2


def test_the_audit_finds_an_input_without_a_label():
    audit = FormAudit()
    audit.feed('<form><label for="a">A</label><input id="a"><input name="b"><button>Go</button>')
    assert [control["name"] for control in unlabelled(audit)] == ["b"]


# --- with the keyboard alone, in a real browser ------------------------------------------------


def test_log_in_and_create_a_token_with_the_keyboard_alone_shown_once(
    own_company, live_app, browser_page, screenshots, django_db_blocker
):
    page, errors = browser_page
    company = own_company
    page.goto(live_app.url(company.host, "/login/"))
    page.get_by_label("E-mail").focus()
    page.keyboard.type(company.email("viewer"))
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")  # sends the login form
    page.wait_for_url(live_app.url(company.host, "/"))

    page.goto(live_app.url(company.host, "/tokens/"))
    page.get_by_label("Name").focus()
    page.keyboard.type("Spreadsheet")
    page.keyboard.press("Tab")  # to the access select
    page.keyboard.press("ArrowDown")  # read only -> read and write
    screenshots.take(page, "token form filled by keyboard")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the focused "Create token" button
    page.wait_for_url(re.compile(r"/tokens/created/$"))
    raw = page.locator("#raw-token").inner_text()
    assert re.fullmatch(r"kpi_[0-9a-f]{8}_[\w-]+", raw)
    assert "Read and write" in page.content()
    screenshots.take(page, "token shown once")

    page.reload()
    page.wait_for_url(re.compile(r"/tokens/$"))
    assert raw not in page.content()
    assert "shown only once" in page.content()
    screenshots.take(page, "after a reload")
    with django_db_blocker.unblock():
        with company.activate():
            from kpiplatform.accounts.models import ApiToken

            assert list(ApiToken.objects.values_list("name", "read_only")) == [
                ("Spreadsheet", False)
            ]
        connection.set_schema_to_public()
    assert errors.messages == []
