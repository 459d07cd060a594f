"""Password reset by e-mail on the company host, end to end."""

import re
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.test import Client

from kpiplatform.accounts.models import ApiToken
from kpiplatform.testing.companies import PASSWORD

NEW_PASSWORD = "orchid-lantern-quartz-5120"


@pytest.fixture(autouse=True)
def _fresh_reset_limits():
    # Reset e-mails are limited per account; each test starts with a clean count.
    cache.clear()
    yield
    cache.clear()


def log_in(company, email: str, password: str):
    return company.client(role=None).post("/login/", {"username": email, "password": password})


def test_member_resets_the_password_through_the_emailed_link_and_logs_in(acme, mailoutbox):
    visitor = acme.client(role=None)
    assert "Forgot your password?" in visitor.get("/login/").content.decode()
    asked = visitor.post("/password-reset/", {"email": "Analyst@acme.test"}, follow=True)
    assert "Check your e-mail" in asked.content.decode()

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["analyst@acme.test"]
    assert message.subject == "Reset your password for Acme Inc"
    link = re.search(r"https?://\S+/password-reset/\S+/\S+/", message.body).group(0)
    assert urlsplit(link).hostname == acme.host

    form = visitor.get(urlsplit(link).path, follow=True)
    assert "Choose a new password" in form.content.decode()
    set_password_path = form.redirect_chain[-1][0]
    done = visitor.post(
        set_password_path,
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert "Your new password is set." in done.content.decode()

    assert log_in(acme, "analyst@acme.test", PASSWORD).status_code == 200  # old one refused
    logged_in = log_in(acme, "analyst@acme.test", NEW_PASSWORD)
    assert logged_in.status_code == 302 and logged_in["Location"] == "/"

    used_again = acme.client(role=None).get(urlsplit(link).path, follow=True)
    assert "invalid or was already used" in used_again.content.decode()


def test_reset_for_an_unknown_address_sends_nothing_and_reveals_nothing(acme, mailoutbox):
    response = acme.client(role=None).post(
        "/password-reset/", {"email": "admin@globex.test"}, follow=True
    )
    assert "Check your e-mail" in response.content.decode()
    assert mailoutbox == []


def test_reset_link_of_one_company_does_not_work_on_another(acme, globex, mailoutbox):
    acme.client(role=None).post("/password-reset/", {"email": "viewer@acme.test"})
    path = urlsplit(re.search(r"https?://\S+/password-reset/\S+/\S+/", mailoutbox[0].body)[0]).path
    page = globex.client(role=None).get(path, follow=True)
    assert "invalid or was already used" in page.content.decode()


def reset_link(message) -> str:
    return urlsplit(re.search(r"https?://\S+/password-reset/\S+/\S+/", message.body).group(0)).path


def test_reset_e_mails_are_limited_per_account(acme, mailoutbox, settings):
    settings.KPI_PASSWORD_RESET_RATE = "3/hour"
    for _ in range(5):
        answer = acme.client(role=None).post("/password-reset/", {"email": "analyst@acme.test"})
        # The page answers the same either way: it never tells whether a mail went out.
        assert answer.status_code == 302 and answer["Location"] == "/password-reset/sent/"
    assert [m.to for m in mailoutbox] == [["analyst@acme.test"]] * 3
    # Another account is not held back by this one's limit.
    acme.client(role=None).post("/password-reset/", {"email": "viewer@acme.test"})
    assert mailoutbox[-1].to == ["viewer@acme.test"]


def test_resetting_the_password_revokes_the_account_s_api_tokens(acme, mailoutbox):
    with acme.activate():
        _, raw = ApiToken.issue(acme.user("analyst"), "script", read_only=False)
        _, other = ApiToken.issue(acme.user("viewer"), "other")
    api = Client(HTTP_HOST=acme.host, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/me/").status_code == 200

    visitor = acme.client(role=None)
    visitor.post("/password-reset/", {"email": "analyst@acme.test"})
    form = visitor.get(reset_link(mailoutbox[-1]), follow=True)
    done = visitor.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert "Your new password is set." in done.content.decode()
    assert "API tokens of your account were revoked" in done.content.decode()

    assert api.get("/api/v1/me/").status_code == 401
    with acme.activate():
        assert not ApiToken.objects.filter(user=acme.user("analyst"), revoked_at=None).exists()
    # Other people's tokens keep working.
    other_api = Client(HTTP_HOST=acme.host, HTTP_AUTHORIZATION=f"Bearer {other}")
    assert other_api.get("/api/v1/me/").status_code == 200
