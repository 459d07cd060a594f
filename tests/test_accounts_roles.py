"""One role check for pages and one for the API: the same answers wherever a role is needed."""

import pytest

from kpiplatform.plugins.registry import all_plugins

# Pages that need the admin role, with the method that reaches them.
ADMIN_PAGES = [
    ("get", "/settings/"),
    ("get", "/plugins/"),
    ("post", "/plugins/kpiplatform-example/switch/"),
    ("post", "/team/invite/"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_PAGES)
def test_a_member_without_the_role_gets_the_same_403_page(acme, method, path):
    assert any(p.name == "kpiplatform-example" for p in all_plugins())
    for role in ("viewer", "analyst"):
        response = getattr(acme.client(role), method)(path)
        assert response.status_code == 403, (role, path)
        page = response.content.decode()
        assert "This needs the Admin role." in page
        assert "Ask an admin of Acme Inc" in page


@pytest.mark.parametrize(("method", "path"), ADMIN_PAGES)
def test_a_visitor_is_sent_to_log_in(acme, method, path):
    response = getattr(acme.client(None), method)(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/settings/", {"gross_margin": "0.5"}),
        ("/api/v1/invitations/", {"email": "x@acme.test", "role": "viewer"}),
        ("/api/v1/plugins/kpiplatform-example/", {"enabled": False}),
    ],
)
def test_the_api_refuses_a_member_without_the_role_with_the_same_message(acme, path, body):
    for role in ("viewer", "analyst"):
        client = acme.client(role)
        method = client.post if path.endswith("invitations/") else client.patch
        response = method(path, body, content_type="application/json")
        assert response.status_code == 403
        assert response.json()["error"]["message"] == "This needs the Admin role."
