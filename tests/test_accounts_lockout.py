"""Login throttling (django-axes): per account, per IP address, and per company."""

from django.conf import settings

from kpiplatform.accounts.models import User
from kpiplatform.testing.companies import PASSWORD

LIMIT = settings.AXES_FAILURE_LIMIT


def attempt(company, email: str, password: str, ip: str):
    return company.client(role=None).post(
        "/login/", {"username": email, "password": password}, REMOTE_ADDR=ip
    )


def test_account_is_locked_after_the_failure_limit_from_any_address(acme):
    for n in range(LIMIT - 1):
        refused = attempt(acme, "analyst@acme.test", "wrong", f"10.0.0.{n + 1}")
        assert refused.status_code == 200
        assert "Wrong e-mail or password." in refused.content.decode()
    locked = attempt(acme, "analyst@acme.test", "wrong", "10.0.0.99")
    assert locked.status_code == 429

    # Even the right password, from a fresh address, is refused while locked.
    still_locked = attempt(acme, "analyst@acme.test", PASSWORD, "10.0.1.1")
    assert still_locked.status_code == 429
    assert "Too many failed attempts" in still_locked.content.decode()
    # Other accounts are not affected.
    assert attempt(acme, "viewer@acme.test", PASSWORD, "10.0.1.2").status_code == 302


def test_below_the_limit_the_right_password_still_logs_in(acme):
    for n in range(LIMIT - 1):
        attempt(acme, "analyst@acme.test", "wrong", f"10.0.2.{n + 1}")
    assert attempt(acme, "analyst@acme.test", PASSWORD, "10.0.2.50").status_code == 302


def test_address_is_locked_after_the_failure_limit_across_accounts(acme):
    for n in range(LIMIT):
        attempt(acme, f"guess{n}@acme.test", "wrong", "192.0.2.7")
    locked = attempt(acme, "viewer@acme.test", PASSWORD, "192.0.2.7")
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.content.decode()
    # The same account from another address logs in: the address was locked, not the account.
    assert attempt(acme, "viewer@acme.test", PASSWORD, "192.0.2.8").status_code == 302


def test_lockout_on_one_company_does_not_lock_the_same_email_on_another(acme, globex):
    for company in (acme, globex):
        with company.activate():
            User.objects.create_user(email="shared@example.test", password=PASSWORD)
    for _ in range(LIMIT):
        attempt(acme, "shared@example.test", "wrong", "198.51.100.1")
    assert attempt(acme, "shared@example.test", PASSWORD, "198.51.100.2").status_code == 429

    on_globex = attempt(globex, "shared@example.test", PASSWORD, "198.51.100.1")
    assert on_globex.status_code == 302
    assert on_globex["Location"] == "/"
