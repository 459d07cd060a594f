"""Invitations: e-mailed link on the company host, one use, 7 days, admins only."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

from django.utils import timezone

from kpiplatform.accounts import services
from kpiplatform.accounts.models import Invitation, User

NEW_PASSWORD = "plum-tractor-violet-9931"


def link_in(message) -> str:
    return re.search(r"https?://\S+/invitations/accept/\S+/", message.body).group(0)


def invite(company, mailoutbox, email="newcomer@example.test", role="analyst") -> str:
    response = company.client("admin").post("/team/invite/", {"email": email, "role": role})
    assert response.status_code == 302, response.content
    return link_in(mailoutbox[-1])


def test_invited_person_joins_with_the_role_through_the_emailed_link(acme, mailoutbox):
    link = invite(acme, mailoutbox, role="analyst")

    message = mailoutbox[0]
    assert message.to == ["newcomer@example.test"]
    assert "Acme Inc" in message.subject
    assert urlsplit(link).hostname == acme.host

    visitor = acme.client(role=None)
    page = visitor.get(urlsplit(link).path)
    assert page.status_code == 200
    assert "Join Acme Inc" in page.content.decode()
    assert "Analyst" in page.content.decode()

    joined = visitor.post(
        urlsplit(link).path,
        {"first_name": "Nia", "last_name": "Newcomer", "password1": NEW_PASSWORD,
         "password2": NEW_PASSWORD},
    )  # fmt: skip
    assert joined.status_code == 302
    me = visitor.get("/api/v1/me/").json()
    assert (me["email"], me["role"], me["first_name"]) == (
        "newcomer@example.test",
        "analyst",
        "Nia",
    )

    team = acme.client("viewer").get("/team/").content.decode()
    assert "newcomer@example.test" in team and "Nia Newcomer" in team

    used_again = acme.client(role=None).get(urlsplit(link).path)
    assert used_again.status_code == 410
    assert "already been used" in used_again.content.decode()


def test_only_the_hash_of_the_invitation_token_is_stored(acme, mailoutbox):
    link = invite(acme, mailoutbox)
    raw = link.rstrip("/").rsplit("/", 1)[1]
    with acme.activate():
        stored = Invitation.objects.get(email="newcomer@example.test")
    assert raw not in stored.token_hash
    assert abs(stored.expires_at - stored.created_at - timedelta(days=7)) < timedelta(seconds=5)


def test_weak_password_is_refused_with_the_validators_message(acme, mailoutbox):
    path = urlsplit(invite(acme, mailoutbox)).path
    response = acme.client(role=None).post(
        path, {"first_name": "Nia", "password1": "12345678", "password2": "12345678"}
    )
    assert response.status_code == 400
    assert "This password is too common." in response.content.decode()
    with acme.activate():
        assert not User.objects.filter(email="newcomer@example.test").exists()


def test_expired_invitation_is_refused_with_a_clear_message(acme, mailoutbox):
    path = urlsplit(invite(acme, mailoutbox)).path
    with acme.activate():
        Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    visitor = acme.client(role=None)
    page = visitor.get(path)
    assert page.status_code == 410
    assert "expired" in page.content.decode()
    post = visitor.post(path, {"first_name": "Late", "password1": NEW_PASSWORD,
                               "password2": NEW_PASSWORD})  # fmt: skip
    assert post.status_code == 410
    with acme.activate():
        assert not User.objects.filter(email="newcomer@example.test").exists()


def test_revoked_invitation_link_no_longer_works(acme, mailoutbox):
    path = urlsplit(invite(acme, mailoutbox)).path
    with acme.activate():
        invitation = Invitation.objects.get(email="newcomer@example.test")
    page = acme.client("admin").post(f"/team/invitations/{invitation.pk}/revoke/", follow=True)
    assert "withdrawn" in page.content.decode()
    assert "No pending invitations." in page.content.decode()
    refused = acme.client(role=None).get(path)
    assert refused.status_code == 410
    assert "withdrawn" in refused.content.decode()


def test_unknown_invitation_link_is_404(acme):
    response = acme.client(role=None).get("/invitations/accept/not-a-real-token/")
    assert response.status_code == 404
    assert "not valid" in response.content.decode()


def test_inviting_an_existing_member_is_refused(acme, mailoutbox):
    response = acme.client("admin").post(
        "/team/invite/", {"email": "Viewer@acme.test", "role": "admin"}
    )
    assert response.status_code == 400
    assert "viewer@acme.test is already a member of Acme Inc." in response.content.decode()
    assert mailoutbox == []


def test_link_for_an_address_that_became_a_member_meanwhile_is_refused(acme, mailoutbox):
    path = urlsplit(invite(acme, mailoutbox)).path
    with acme.activate():
        User.objects.create_user(email="newcomer@example.test", password=NEW_PASSWORD)
    response = acme.client(role=None).get(path)
    assert response.status_code == 409
    assert "already a member" in response.content.decode()


def test_invitation_of_one_company_means_nothing_on_another(acme, globex, mailoutbox):
    path = urlsplit(invite(acme, mailoutbox)).path
    assert globex.client(role=None).get(path).status_code == 404


def test_inviting_again_replaces_the_earlier_link(acme, mailoutbox):
    first = urlsplit(invite(acme, mailoutbox)).path
    second = urlsplit(invite(acme, mailoutbox)).path
    assert acme.client(role=None).get(first).status_code == 410
    assert acme.client(role=None).get(second).status_code == 200


def test_removed_member_can_be_invited_back(acme, mailoutbox):
    with acme.activate():
        services.remove_member(acme.user("viewer"))
    path = urlsplit(invite(acme, mailoutbox, email="viewer@acme.test", role="analyst")).path
    visitor = acme.client(role=None)
    visitor.post(path, {"first_name": "Vera", "password1": NEW_PASSWORD,
                        "password2": NEW_PASSWORD})  # fmt: skip
    assert visitor.get("/api/v1/me/").json()["role"] == "analyst"


def test_api_admin_invites_lists_and_revokes(acme, mailoutbox):
    admin = acme.client("admin")
    created = admin.post(
        "/api/v1/invitations/", {"email": "API@Example.test", "role": "viewer"}, "application/json"
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["email"], body["role"], body["state"]) == ("api@example.test", "viewer", "pending")
    assert body["invited_by"] == "admin@acme.test"
    assert mailoutbox[0].to == ["api@example.test"]

    listing = admin.get("/api/v1/invitations/").json()
    assert [row["email"] for row in listing["results"]] == ["api@example.test"]

    assert admin.delete(f"/api/v1/invitations/{body['id']}/").status_code == 204
    assert admin.get("/api/v1/invitations/").json()["count"] == 0
    assert acme.client(role=None).get(urlsplit(link_in(mailoutbox[0])).path).status_code == 410


def test_api_refuses_inviting_a_member_with_a_field_error(acme, mailoutbox):
    response = acme.client("admin").post(
        "/api/v1/invitations/", {"email": "analyst@acme.test", "role": "viewer"}, "application/json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"]["email"] == ["analyst@acme.test is already a member of Acme Inc."]
    assert mailoutbox == []


def test_viewer_and_analyst_cannot_invite(acme, mailoutbox):
    for role in ("viewer", "analyst"):
        client = acme.client(role)
        page = client.post("/team/invite/", {"email": "x@example.test", "role": "viewer"})
        assert page.status_code == 403
        assert "This needs the Admin role." in page.content.decode()
        api = client.post(
            "/api/v1/invitations/",
            {"email": "x@example.test", "role": "viewer"},
            "application/json",
        )
        assert api.status_code == 403
        assert api.json()["error"]["message"] == "This needs the Admin role."
        assert client.get("/api/v1/invitations/").status_code == 403
    assert mailoutbox == []


def test_api_refuses_an_invitation_without_a_role_with_a_field_error(acme, mailoutbox):
    response = acme.client("admin").post(
        "/api/v1/invitations/", {"email": "norole@example.test"}, "application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"role": ["This field is required."]}
    assert mailoutbox == []
    with acme.activate():
        assert not Invitation.objects.filter(email="norole@example.test").exists()
