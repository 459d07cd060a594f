"""Password reset by e-mail on the company host, end to end."""

import re
from urllib.parse import urlsplit

from kpiplatform.testing.companies import PASSWORD

NEW_PASSWORD = "orchid-lantern-quartz-5120"


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
