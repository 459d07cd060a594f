def test_company_home_page_needs_login_and_then_shows_the_company(acme):
    anonymous = acme.client(role=None).get("/")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/login/")
    page = acme.client("viewer").get("/")
    assert page.status_code == 200
    assert "Acme Inc" in page.content.decode()
    assert "No data yet" in page.content.decode()  # an honest empty state


def test_landing_page_on_public_host(client, db):
    response = client.get("/", HTTP_HOST="localhost")
    assert response.status_code == 200
    assert "Create your company" in response.content.decode()
