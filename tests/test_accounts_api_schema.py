"""The OpenAPI schema describes the accounts endpoints without generator warnings."""

from django.core.management import call_command


def test_schema_generates_without_warnings_and_lists_the_accounts_endpoints(tmp_path, db):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--file", str(target))
    schema = target.read_text()
    for path in ("/api/v1/users/{id}/", "/api/v1/invitations/", "/api/v1/tokens/{id}/"):
        assert f"  {path}:" in schema
    assert "scheme: bearer" in schema


def test_one_openapi_scheme_describes_api_tokens():
    from drf_spectacular.extensions import OpenApiAuthenticationExtension

    from kpiplatform.accounts import authentication  # noqa: F401 (imported, as requests do)
    from kpiplatform.accounts.authentication import ApiTokenAuthentication

    schemes = [
        extension
        for extension in OpenApiAuthenticationExtension._registry
        if extension._matches(ApiTokenAuthentication)
    ]
    assert [f"{scheme.__module__}.{scheme.__name__}" for scheme in schemes] == [
        "kpiplatform.api.schema.ApiTokenScheme"
    ]
