"""Login throttling (django-axes): the (account, address) pair, a higher per-address limit.

Behind the proxy that ``docker/`` assumes, every request arrives from the proxy's address and
carries ``X-Forwarded-For`` as nginx's ``$proxy_add_x_forwarded_for`` writes it: whatever the
client sent, then the address the proxy saw. The tests send exactly that header.
"""

import pytest
from django.conf import settings

from kpiplatform.accounts.models import User
from kpiplatform.testing.companies import PASSWORD

LIMIT = settings.AXES_FAILURE_LIMIT
ADDRESS_LIMIT = settings.KPI_LOGIN_ADDRESS_FAILURE_LIMIT
PROXY = "172.18.0.5"  # the reverse proxy: REMOTE_ADDR of every request behind it


@pytest.fixture(autouse=True)
def _behind_one_proxy(settings):
    settings.KPI_TRUSTED_PROXY_COUNT = 1


def attempt(company, email: str, password: str, address: str, forged: str = "203.0.113.66"):
    """A login POST from ``address`` through the proxy; the client also forged a header."""
    return company.client(role=None).post(
        "/login/",
        {"username": email, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=f"{forged}, {address}",
    )


def test_failures_from_one_address_lock_that_account_from_that_address_only(acme):
    for n in range(LIMIT - 1):
        # The forged part changes every time: it must not spread the count.
        refused = attempt(acme, "analyst@acme.test", "wrong", "198.51.100.1", f"10.9.9.{n}")
        assert refused.status_code == 200
        assert "Wrong e-mail or password." in refused.content.decode()
    locked = attempt(acme, "analyst@acme.test", "wrong", "198.51.100.1")
    assert locked.status_code == 429

    # Even the right password is refused from that address while locked...
    still_locked = attempt(acme, "analyst@acme.test", PASSWORD, "198.51.100.1")
    assert still_locked.status_code == 429
    assert "Too many failed attempts" in still_locked.content.decode()
    # ...but the same person from another address logs in, and so does everyone else.
    from_elsewhere = attempt(acme, "analyst@acme.test", PASSWORD, "198.51.100.2")
    assert from_elsewhere.status_code == 302
    assert attempt(acme, "viewer@acme.test", PASSWORD, "198.51.100.1").status_code == 302


def test_an_attacker_cycling_forged_headers_still_locks_only_their_own_address(acme):
    for n in range(LIMIT):
        attempt(acme, "admin@acme.test", "wrong", "192.0.2.50", forged=f"198.51.100.{n}")
    assert attempt(acme, "admin@acme.test", PASSWORD, "192.0.2.50").status_code == 429
    assert attempt(acme, "admin@acme.test", PASSWORD, "192.0.2.51").status_code == 302


def test_below_the_limit_the_right_password_still_logs_in(acme):
    for _ in range(LIMIT - 1):
        attempt(acme, "analyst@acme.test", "wrong", "198.51.100.3")
    assert attempt(acme, "analyst@acme.test", PASSWORD, "198.51.100.3").status_code == 302


def test_many_accounts_from_one_address_hit_the_higher_per_address_limit(acme):
    assert ADDRESS_LIMIT > LIMIT
    for n in range(ADDRESS_LIMIT - 1):
        refused = attempt(acme, f"guess{n}@acme.test", "wrong", "192.0.2.7")
        assert refused.status_code == 200, n
    # Below the per-address limit a real member still logs in from that address.
    assert attempt(acme, "viewer@acme.test", PASSWORD, "192.0.2.7").status_code == 302
    attempt(acme, "guess-last@acme.test", "wrong", "192.0.2.7")

    locked = attempt(acme, "analyst@acme.test", PASSWORD, "192.0.2.7")
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.content.decode()
    # The address was locked, not the accounts.
    assert attempt(acme, "analyst@acme.test", PASSWORD, "192.0.2.8").status_code == 302


def test_a_successful_login_does_not_clear_the_address_count(acme):
    for n in range(ADDRESS_LIMIT - 1):
        attempt(acme, f"guess{n}@acme.test", "wrong", "192.0.2.9")
    assert attempt(acme, "viewer@acme.test", PASSWORD, "192.0.2.9").status_code == 302
    attempt(acme, "guess-last@acme.test", "wrong", "192.0.2.9")
    assert attempt(acme, "viewer@acme.test", PASSWORD, "192.0.2.9").status_code == 429


def test_email_is_compared_without_case_at_login(acme):
    upper = attempt(acme, "ANALYST@Acme.TEST", PASSWORD, "198.51.100.4")
    assert upper.status_code == 302
    client = acme.client(role=None)
    client.post(
        "/login/",
        {"username": "Viewer@ACME.test", "password": PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="198.51.100.4",
    )
    assert client.get("/api/v1/me/").json()["email"] == "viewer@acme.test"


def test_failures_in_any_letter_case_count_against_one_account(acme):
    spellings = ["analyst@acme.test", "ANALYST@acme.test", "Analyst@Acme.Test"]
    for n in range(LIMIT):
        attempt(acme, spellings[n % len(spellings)], "wrong", "198.51.100.5")
    assert attempt(acme, "analyst@acme.test", PASSWORD, "198.51.100.5").status_code == 429


def test_without_trusted_proxies_the_header_is_ignored(acme, settings):
    settings.KPI_TRUSTED_PROXY_COUNT = 0
    client = acme.client(role=None)
    for n in range(LIMIT):
        client.post(
            "/login/",
            {"username": "analyst@acme.test", "password": "wrong"},
            REMOTE_ADDR="198.51.100.6",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )
    locked = client.post(
        "/login/",
        {"username": "analyst@acme.test", "password": PASSWORD},
        REMOTE_ADDR="198.51.100.6",
        HTTP_X_FORWARDED_FOR="192.0.2.200",
    )
    assert locked.status_code == 429


def test_lockout_on_one_company_does_not_lock_the_same_email_on_another(acme, globex):
    for company in (acme, globex):
        with company.activate():
            User.objects.create_user(email="shared@example.test", password=PASSWORD)
    for _ in range(LIMIT):
        attempt(acme, "shared@example.test", "wrong", "198.51.100.1")
    assert attempt(acme, "shared@example.test", PASSWORD, "198.51.100.1").status_code == 429

    on_globex = attempt(globex, "shared@example.test", PASSWORD, "198.51.100.1")
    assert on_globex.status_code == 302
    assert on_globex["Location"] == "/"
