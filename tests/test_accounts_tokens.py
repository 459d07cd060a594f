"""API tokens: shown once, stored hashed, revocable, read-only enforced, bound to a company."""

import hashlib
import re

from django.test import Client

from kpiplatform.accounts.models import ApiToken


def bearer_client(company, raw: str) -> Client:
    return Client(HTTP_HOST=company.host, HTTP_AUTHORIZATION=f"Bearer {raw}")


def create_token_via_api(company, role: str = "analyst", read_only: bool = False) -> str:
    response = company.client(role).post(
        "/api/v1/tokens/", {"name": "BI export", "read_only": read_only}, "application/json"
    )
    assert response.status_code == 201, response.content
    return response.json()["token"]


def test_token_page_shows_the_raw_token_once_and_stores_only_its_hash(acme):
    client = acme.client("viewer")
    created = client.post("/tokens/", {"name": "Spreadsheet", "access": "read"}, follow=True)
    assert created.redirect_chain == [("/tokens/created/", 302)]
    raw = re.search(r"kpi_[0-9a-f]{8}_[\w-]+", created.content.decode()).group(0)
    assert "shown only this once" in created.content.decode()

    listing = client.get("/tokens/").content.decode()
    assert "Spreadsheet" in listing
    assert raw not in listing
    assert raw.split("_")[1] in listing  # the prefix identifies it

    with acme.activate():
        token = ApiToken.objects.get(name="Spreadsheet")
        assert token.key_hash == hashlib.sha256(raw.encode()).hexdigest()
        stored = [str(v) for v in ApiToken.objects.filter(pk=token.pk).values().get().values()]
    assert not any(raw in value or raw.split("_", 2)[2] in value for value in stored)
    assert bearer_client(acme, raw).get("/api/v1/me/").json()["email"] == "viewer@acme.test"


def test_api_returns_the_raw_token_only_in_the_create_response(acme):
    client = acme.client("analyst")
    created = client.post(
        "/api/v1/tokens/", {"name": "CI", "read_only": True}, "application/json"
    ).json()
    raw = created["token"]
    assert raw.startswith(created["prefix"])
    assert created["state"] == "active" and created["read_only"] is True

    listing = client.get("/api/v1/tokens/").json()
    assert listing["count"] == 1
    assert "token" not in listing["results"][0]
    assert raw not in client.get(f"/api/v1/tokens/{created['id']}/").content.decode()


def test_revoked_token_is_refused_with_401(acme):
    raw = create_token_via_api(acme)
    api = bearer_client(acme, raw)
    assert api.get("/api/v1/me/").status_code == 200
    token_id = api.get("/api/v1/tokens/").json()["results"][0]["id"]

    assert api.delete(f"/api/v1/tokens/{token_id}/").status_code == 204

    refused = api.get("/api/v1/me/")
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "Invalid or revoked API token."
    listed = acme.client("analyst").get("/api/v1/tokens/").json()["results"][0]
    assert listed["state"] == "revoked"


def test_token_revoked_on_the_page_stops_working(acme):
    raw = create_token_via_api(acme, role="viewer", read_only=True)
    with acme.activate():
        token = ApiToken.objects.get(user__email="viewer@acme.test")
    page = acme.client("viewer").post(f"/tokens/{token.pk}/revoke/", follow=True)
    assert "no longer works" in page.content.decode()
    assert "Revoked" in page.content.decode()
    assert bearer_client(acme, raw).get("/api/v1/me/").status_code == 401


def test_read_only_token_can_read_but_not_write(acme):
    raw = create_token_via_api(acme, role="admin", read_only=True)
    api = bearer_client(acme, raw)
    assert api.get("/api/v1/users/").status_code == 200

    refused = api.post(
        "/api/v1/invitations/", {"email": "new@example.test", "role": "viewer"}, "application/json"
    )
    assert refused.status_code == 403
    assert refused.json() == {
        "error": {"code": "permission_denied", "message": "This API token is read-only."}
    }
    assert api.post("/api/v1/tokens/", {"name": "x"}, "application/json").status_code == 403


def test_read_write_token_can_write(acme, mailoutbox):
    raw = create_token_via_api(acme, role="admin", read_only=False)
    response = bearer_client(acme, raw).post(
        "/api/v1/invitations/", {"email": "new@example.test", "role": "viewer"}, "application/json"
    )
    assert response.status_code == 201
    assert len(mailoutbox) == 1


def test_token_of_one_company_is_refused_on_another_company_host(acme, globex):
    raw = create_token_via_api(acme, role="admin")
    assert bearer_client(acme, raw).get("/api/v1/me/").status_code == 200

    refused = bearer_client(globex, raw).get("/api/v1/me/")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "authentication_failed"
    assert bearer_client(globex, raw).get("/api/v1/users/").status_code == 401


def test_members_see_and_revoke_only_their_own_tokens(acme):
    create_token_via_api(acme, role="admin")
    viewer = acme.client("viewer")
    assert viewer.get("/api/v1/tokens/").json()["count"] == 0
    with acme.activate():
        admin_token_id = ApiToken.objects.get(user__email="admin@acme.test").pk
    assert viewer.delete(f"/api/v1/tokens/{admin_token_id}/").status_code == 404
    assert viewer.post(f"/tokens/{admin_token_id}/revoke/").status_code == 404
    with acme.activate():
        assert ApiToken.objects.get(pk=admin_token_id).is_active


def test_token_records_when_it_was_last_used(acme):
    raw = create_token_via_api(acme)
    listed = acme.client("analyst").get("/api/v1/tokens/").json()["results"][0]
    assert listed["last_used_at"] is None
    bearer_client(acme, raw).get("/api/v1/me/")
    listed = acme.client("analyst").get("/api/v1/tokens/").json()["results"][0]
    assert listed["last_used_at"] is not None


def test_anonymous_api_call_gets_401_in_the_error_body(acme):
    response = acme.client(role=None).get("/api/v1/tokens/")
    assert response.status_code == 401
    assert "message" in response.json()["error"]


def test_the_token_creation_answer_is_never_stored_by_a_cache(acme):
    client = acme.client("analyst")
    created = client.post("/api/v1/tokens/", {"name": "CI"}, "application/json")
    assert created.status_code == 201
    assert "no-store" in created["Cache-Control"]
    page = client.post("/tokens/", {"name": "Sheet", "access": "read"}, follow=True)
    assert "kpi_" in page.content.decode()
    assert "no-store" in page["Cache-Control"]


def test_reloading_the_token_page_creates_no_other_token_and_shows_it_no_more(acme):
    client = acme.client("analyst")
    posted = client.post("/tokens/", {"name": "Sheet", "access": "read"})
    assert posted.status_code == 302
    assert posted["Location"] == "/tokens/created/"
    shown = client.get("/tokens/created/")
    assert shown.status_code == 200
    raw = re.search(r"kpi_[0-9a-f]{8}_[\w-]+", shown.content.decode()).group(0)

    reloaded = client.get("/tokens/created/", follow=True)

    assert reloaded.redirect_chain == [("/tokens/", 302)]
    page = reloaded.content.decode()
    assert raw not in page
    assert "shown only once" in page
    with acme.activate():
        assert ApiToken.objects.filter(name="Sheet").count() == 1
    assert all(raw not in str(value) for value in client.session.values())


def test_the_new_token_is_shown_only_to_the_member_who_created_it(acme):
    analyst = acme.client("analyst")
    analyst.post("/tokens/", {"name": "Sheet", "access": "read"})
    other = acme.client("viewer")

    assert other.get("/tokens/created/").status_code == 302
