"""The OpenAPI schema describes the accounts endpoints without generator warnings."""

from django.core.management import call_command


def test_schema_generates_without_warnings_and_lists_the_accounts_endpoints(tmp_path, db):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--file", str(target))
    schema = target.read_text()
    for path in ("/api/v1/users/{id}/", "/api/v1/invitations/", "/api/v1/tokens/{id}/"):
        assert f"  {path}:" in schema
    assert "scheme: bearer" in schema
