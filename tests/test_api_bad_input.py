"""Bad input anywhere in the API is a clear 4xx with the usual error body, never a 500."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

DEEP_ARRAYS = "[" * 100_000 + "]" * 100_000
DEEP_OBJECTS = '{"a": ' * 100_000 + "1" + "}" * 100_000
HUGE_INTEGER = "1" * 5_000

# JSON the json module reads (or chokes on) in ways that used to end in a 500.
NASTY_JSON = {
    "nested 100,000 deep (arrays)": (DEEP_ARRAYS, "nested too deeply"),
    "nested 100,000 deep (objects)": (DEEP_OBJECTS, "nested too deeply"),
    "a 5,000-digit integer": (f'{{"role": {HUGE_INTEGER}, "name": {HUGE_INTEGER}}}', "digits"),
    "a lone surrogate in a value": (
        '{"role": "\\ud800", "email": "\\ud800@acme.test", "name": "\\ud800", '
        '"time_zone": "\\udfff", "enabled": "\\ud800"}',
        "lone UTF-16 surrogate",
    ),
    "a lone surrogate in a key": ('{"\\ud800": 1}', "lone UTF-16 surrogate"),
    "NaN": ('{"gross_margin": NaN}', "NaN is not a JSON value"),
}

# Every endpoint of a company host that reads a JSON body.
JSON_ENDPOINTS = [
    ("patch", "/api/v1/settings/"),
    ("post", "/api/v1/invitations/"),
    ("post", "/api/v1/tokens/"),
    ("patch", "/api/v1/users/{viewer}/"),
    ("patch", "/api/v1/plugins/kpiplatform-kpis/"),
]


@pytest.mark.parametrize("case", NASTY_JSON)
@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
def test_nasty_json_bodies_are_400_parse_errors(acme, case, method, path):
    body, message = NASTY_JSON[case]
    path = path.format(viewer=acme.user("viewer").pk)
    response = getattr(acme.client("admin"), method)(path, body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert message in error["message"]


@pytest.mark.parametrize("case", NASTY_JSON)
def test_nasty_json_at_signup_is_a_400_parse_error(signup_pool, db, case):
    body, message = NASTY_JSON[case]
    response = Client(HTTP_HOST="localhost").post(
        "/api/v1/signup/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("case", "body"),
    [
        ("nested 100,000 deep", DEEP_ARRAYS),
        ("a 5,000-digit integer", f'[{{"external_id": "a", "amount_minor": {HUGE_INTEGER}}}]'),
        ("a lone surrogate in a value", '[{"external_id": "\\ud800"}]'),
        ("a lone surrogate in a column name", '[{"external_id": "a", "\\ud800": 1}]'),
        ("NaN", '[{"external_id": "a", "rate": NaN}]'),
    ],
)
def test_nasty_json_imports_are_refused_whole(acme, case, body):
    response = acme.client("admin").post(
        "/api/v1/data/exchange_rates/", body, content_type="application/json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_file"
    (row_error,) = error["errors"]
    assert row_error["line"] == 0
    assert "JSON" in row_error["message"]


def _api_paths(resolver: URLResolver, prefix: str = "") -> list[str]:
    """Every route of the resolver under /api/v1/, with sample values for its parameters."""
    samples = {
        "dataset": "payments",
        "external_id": "x",
        "key": "mrr",
        "name": "kpiplatform-kpis",
        "pk": "1",
        "connection_pk": "1",
        "format": "csv",
    }
    paths = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            paths += _api_paths(entry, route)
        elif isinstance(entry, URLPattern) and route.startswith("api/v1/"):
            # Router routes are regular expressions (^users/(?P<pk>[^/.]+)/$), others paths.
            route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: samples[m[1]], route)
            route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: samples[m[1]], route)
            paths.append("/" + route.replace("^", "").replace("$", ""))
    return sorted(set(paths))


def test_every_api_endpoint_is_listed():
    paths = _api_paths(get_resolver("kpiplatform.urls"))
    assert {"/api/v1/data/payments/", "/api/v1/docs/", "/api/v1/users/1/"} <= set(paths)
    assert not [p for p in paths if "<" in p or "(?" in p], paths


@pytest.mark.parametrize("path", _api_paths(get_resolver("kpiplatform.urls")))
def test_options_with_an_admin_token_answers_on_every_api_endpoint(acme, path):
    with acme.activate():
        from kpiplatform.accounts.models import ApiToken

        _, raw = ApiToken.issue(acme.user("admin"), "options", read_only=False)
    client = Client(HTTP_HOST=acme.host, HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.options(path)
    assert response.status_code in (200, 404), (path, response.content[:300])
    assert "Allow" in response or response.status_code == 404


@pytest.mark.parametrize("name", ["segment", "segment_kind", "grain", "start", "end"])
def test_a_nul_byte_in_a_kpi_series_parameter_is_400(acme, name):
    response = acme.client("viewer").get(f"/api/v1/kpis/mrr/series/?{name}=a%00b")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(f"{name}: ")


@pytest.mark.parametrize("path", _api_paths(get_resolver("kpiplatform.urls_public")))
def test_options_answers_on_every_api_endpoint_of_the_public_host(db, path):
    response = Client(HTTP_HOST="localhost").options(path)
    assert response.status_code == 200, (path, response.content[:300])
