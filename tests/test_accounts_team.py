"""Team page and users API: roles, removal, and never the last admin."""

import threading

from django.db import connection
from django.utils import timezone

from kpiplatform.accounts import services
from kpiplatform.accounts.models import ApiToken, Role, User


def row_of(html: str, email: str) -> str:
    start = html.index(email)
    return html[html.rindex("<tr>", 0, start) : html.index("</tr>", start)]


def test_team_page_lists_members_with_name_role_and_last_login(acme):
    with acme.activate():
        User.objects.create_user(email="quiet@acme.test", first_name="Quinn", last_name="Quiet")
    acme.client(role=None).post(
        "/login/", {"username": "analyst@acme.test", "password": "correct-horse-battery-staple-42"}
    )
    page = acme.client("viewer").get("/team/")
    assert page.status_code == 200
    html = page.content.decode()
    quiet = row_of(html, "quiet@acme.test")
    assert "Quinn Quiet" in quiet and "Viewer" in quiet and "never" in quiet
    analyst = row_of(html, "analyst@acme.test")
    assert "Analyst" in analyst
    assert timezone.now().strftime("%Y-%m-%d") in analyst
    assert "Send invitation" not in html  # viewers see, admins manage
    assert "Send invitation" in acme.client("admin").get("/team/").content.decode()


def test_team_page_needs_login(acme):
    response = acme.client(role=None).get("/team/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_admin_changes_a_role_on_the_team_page(acme):
    analyst = acme.user("analyst")
    page = acme.client("admin").post(f"/team/{analyst.pk}/role/", {"role": "viewer"}, follow=True)
    assert "analyst@acme.test is now Viewer." in page.content.decode()
    assert acme.client("analyst").get("/api/v1/me/").json()["role"] == "viewer"


def test_admin_removes_a_member_and_their_access_ends(acme):
    viewer = acme.user("viewer")
    viewer_session = acme.client("viewer")
    with acme.activate():
        _, raw = ApiToken.issue(viewer, "script")
    page = acme.client("admin").post(f"/team/{viewer.pk}/remove/", follow=True)
    assert "viewer@acme.test was removed from the team." in page.content.decode()
    assert "viewer@acme.test" not in acme.client("admin").get("/api/v1/users/").content.decode()
    assert viewer_session.get("/").status_code == 302  # the session no longer logs in
    assert (
        acme.client(role=None).get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code
        == 401
    )


def test_last_admin_cannot_demote_themselves_on_the_page(acme):
    admin = acme.user("admin")
    page = acme.client("admin").post(f"/team/{admin.pk}/role/", {"role": "viewer"}, follow=True)
    assert "admin@acme.test is the only admin; make someone else admin first." in (
        page.content.decode()
    )
    with acme.activate():
        assert User.objects.get(pk=admin.pk).role == "admin"


def test_last_admin_cannot_be_removed_on_the_page(acme):
    admin = acme.user("admin")
    page = acme.client("admin").post(f"/team/{admin.pk}/remove/", follow=True)
    assert "is the only admin" in page.content.decode()
    with acme.activate():
        assert User.objects.get(pk=admin.pk).is_active


def test_last_admin_cannot_be_demoted_or_removed_over_the_api(acme):
    admin = acme.client("admin")
    admin_id = acme.user("admin").pk
    demote = admin.patch(f"/api/v1/users/{admin_id}/", {"role": "analyst"}, "application/json")
    assert demote.status_code == 409
    assert demote.json() == {
        "error": {
            "code": "conflict",
            "message": "admin@acme.test is the only admin; make someone else admin first.",
        }
    }
    remove = admin.delete(f"/api/v1/users/{admin_id}/")
    assert remove.status_code == 409
    assert admin.get(f"/api/v1/users/{admin_id}/").json()["role"] == "admin"


def test_with_a_second_admin_the_first_can_step_down(acme):
    admin = acme.client("admin")
    analyst_id = acme.user("analyst").pk
    promoted = admin.patch(f"/api/v1/users/{analyst_id}/", {"role": "admin"}, "application/json")
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    admin_id = acme.user("admin").pk
    stepped_down = admin.patch(f"/api/v1/users/{admin_id}/", {"role": "viewer"}, "application/json")
    assert stepped_down.status_code == 200
    # The former admin is now a viewer and cannot promote themselves back.
    again = admin.patch(f"/api/v1/users/{admin_id}/", {"role": "admin"}, "application/json")
    assert again.status_code == 403


def test_members_list_is_paginated_and_readable_by_every_role(acme):
    body = acme.client("viewer").get("/api/v1/users/?page_size=2").json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"] is not None
    assert set(body["results"][0]) == {
        "id", "email", "first_name", "last_name", "role", "last_login", "date_joined"
    }  # fmt: skip


def test_viewer_and_analyst_cannot_change_roles_or_remove(acme):
    target = acme.user("viewer").pk
    for role in ("viewer", "analyst"):
        client = acme.client(role)
        api = client.patch(f"/api/v1/users/{target}/", {"role": "admin"}, "application/json")
        assert api.status_code == 403
        assert api.json()["error"]["message"] == "This needs the Admin role."
        assert client.delete(f"/api/v1/users/{target}/").status_code == 403
        page = client.post(f"/team/{target}/role/", {"role": "admin"})
        assert page.status_code == 403
        assert client.post(f"/team/{target}/remove/").status_code == 403
    assert acme.client("admin").get(f"/api/v1/users/{target}/").json()["role"] == "viewer"


def test_unknown_role_is_refused_with_a_field_error(acme):
    target = acme.user("viewer").pk
    response = acme.client("admin").patch(
        f"/api/v1/users/{target}/", {"role": "owner"}, "application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["role"] == ['"owner" is not a valid choice.']


def test_members_of_another_company_are_not_found(acme, globex):
    globex_admin_id = globex.user("admin").pk
    listing = acme.client("admin").get("/api/v1/users/").json()
    assert "admin@globex.test" not in {row["email"] for row in listing["results"]}
    # Ids repeat across companies, so the same id finds acme's own member, never globex's.
    found = acme.client("admin").get(f"/api/v1/users/{globex_admin_id}/")
    assert found.status_code == 404 or found.json()["email"].endswith("@acme.test")


def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    standing_companies, django_db_blocker
):
    """Two real connections in two threads; the rows must be committed to be seen by both."""
    acme = standing_companies["acme"]
    with django_db_blocker.unblock(), acme.activate():
        first = acme.user("admin")
        second = User.objects.create_user(email="second-admin@acme.test", role=Role.ADMIN)
        try:
            outcomes = []
            for _ in range(5):  # the race is lost at once or not at all: try it a few times
                User.objects.filter(pk__in=[first.pk, second.pk]).update(role=Role.ADMIN)
                outcomes.append(demote_each_other_at_once(acme, first, second))
        finally:
            User.objects.filter(pk=first.pk).update(role=Role.ADMIN)
            second.delete()
    for results, admins in outcomes:
        assert sorted(map(type, results.values()), key=str) == sorted(
            [User, services.LastAdminError], key=str
        ), results
        assert len(admins) == 1


def demote_each_other_at_once(acme, first, second) -> tuple[dict, list]:
    barrier = threading.Barrier(2, timeout=10)
    results: dict[int, object] = {}

    def demote(user) -> None:
        try:
            with acme.activate():
                barrier.wait()
                results[user.pk] = services.change_role(user, Role.VIEWER)
        except Exception as exc:
            results[user.pk] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=demote, args=(user,)) for user in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results, list(services.active_admins().filter(pk__in=[first.pk, second.pk]))
