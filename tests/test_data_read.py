"""Reading canonical records through GET /api/v1/data/<dataset>/."""

from __future__ import annotations

import datetime as dt

import pytest

from kpiplatform.data.writer import BulkWriter

UTC = dt.UTC


def at(day: int, hour: int = 12, month: int = 3) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, tzinfo=UTC)


@pytest.fixture
def payments(acme):
    with acme.activate():
        BulkWriter("import").upsert(
            "payments",
            [
                {
                    "external_id": f"p{i}",
                    "customer_ref": f"c{i % 2}",
                    "occurred_at": at(1 + i),
                    "amount_minor": 100 * i,
                    "currency": "EUR",
                }
                for i in range(10)
            ],
        )
        BulkWriter("stripe:1").upsert(
            "payments",
            [{"external_id": "p0", "occurred_at": at(1), "amount_minor": 5, "currency": "USD"}],
        )
        BulkWriter("import").delete("payments", ["p9"])
    return acme


def get(company, path: str, role: str = "viewer"):
    response = company.client(role).get(path)
    return response.status_code, response.json()


def test_every_member_reads_live_records_in_id_order(payments):
    for role in ("viewer", "analyst", "admin"):
        status, body = get(payments, "/api/v1/data/payments/", role)
        assert status == 200
        assert body["count"] == 10  # 9 live imports + 1 from stripe; p9 is tombstoned
    first = body["results"][0]
    assert first["external_id"] == "p0"
    assert first["source"] == "import"
    assert first["occurred_at"] == "2025-03-01T12:00:00Z"
    assert first["currency"] == "EUR"
    assert {"id", "updated_at", "deleted_at", "tax_minor", "is_order"} <= set(first)


def test_pagination(payments):
    status, body = get(payments, "/api/v1/data/payments/?page_size=4&page=3")
    assert status == 200
    assert body["count"] == 10
    assert len(body["results"]) == 2
    assert body["next"] is None
    assert body["previous"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("source=stripe:1", {"p0"}),
        ("external_id=p3", {"p3"}),
        ("customer_ref=c1&source=import", {"p1", "p3", "p5", "p7"}),
        ("from=2025-03-03&to=2025-03-05&source=import", {"p2", "p3", "p4"}),
        ("from=2025-03-03T13:00:00Z&to=2025-03-05T12:00:00Z", {"p3", "p4"}),
        ("include_deleted=true&from=2025-03-09", {"p8", "p9"}),
        ("from=2025-03-09", {"p8"}),
    ],
)
def test_filters(payments, query, expected):
    status, body = get(payments, f"/api/v1/data/payments/?{query}")
    assert status == 200, body
    assert {row["external_id"] for row in body["results"]} == expected


def test_channel_and_campaign_filters_and_date_datasets(acme):
    with acme.activate():
        BulkWriter("import").upsert(
            "spend",
            [
                {
                    "external_id": "s1",
                    "spent_on": dt.date(2025, 1, 31),
                    "channel": "paid_search",
                    "campaign": "winter",
                    "amount_minor": 10,
                    "currency": "USD",
                },
                {
                    "external_id": "s2",
                    "spent_on": dt.date(2025, 2, 28),
                    "channel": "paid_social",
                    "campaign": "winter",
                    "amount_minor": 20,
                    "currency": "USD",
                },
            ],
        )
    _, body = get(acme, "/api/v1/data/spend/?channel=paid_search")
    assert [row["external_id"] for row in body["results"]] == ["s1"]
    _, body = get(acme, "/api/v1/data/spend/?campaign=winter&to=2025-02-28&from=2025-02-28")
    assert [row["external_id"] for row in body["results"]] == ["s2"]
    assert body["results"][0]["spent_on"] == "2025-02-28"


def test_exchange_rates_are_exact_strings(acme):
    with acme.activate():
        BulkWriter("import").upsert(
            "exchange_rates",
            [{"external_id": "r", "day": dt.date(2025, 1, 1), "currency": "EUR", "rate": "1.0352"}],
        )
    _, body = get(acme, "/api/v1/data/exchange_rates/")
    assert body["results"][0]["rate"] == "1.0352000000"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/v1/data/payments/?channel=ads", "payments has no channel column"),
        ("/api/v1/data/plans/?from=2025-01-01", "plans has no date"),
        ("/api/v1/data/payments/?from=yesterday", "is not a date"),
        ("/api/v1/data/payments/?from=%25s", "'%s' is not a date"),
        ("/api/v1/data/spend/?to=%25(x)s", "'%(x)s' is not a date"),
        ("/api/v1/data/payments/?to=2025-01-01T10:00:00", "offset"),
    ],
)
def test_bad_filters_are_400_with_a_message(acme, path, message):
    status, body = get(acme, path)
    assert status == 400
    assert message in body["error"]["message"]


def test_unknown_dataset_is_404_with_the_known_ones(acme):
    status, body = get(acme, "/api/v1/data/invoices/")
    assert status == 404
    assert "Unknown dataset 'invoices'" in body["error"]["message"]
    assert "payments" in body["error"]["message"]


def test_anonymous_cannot_read(acme):
    assert acme.client(None).get("/api/v1/data/payments/").status_code == 401


def test_other_company_sees_nothing(payments, globex):
    status, body = get(globex, "/api/v1/data/payments/?include_deleted=true")
    assert status == 200
    assert body["count"] == 0


def test_openapi_schema_lists_the_data_endpoints(acme):
    response = acme.client("viewer").get("/api/v1/schema/")
    assert response.status_code == 200
    assert "/api/v1/data/{dataset}/" in response.content.decode()


@pytest.mark.parametrize(
    ("dataset", "name", "message"),
    [
        ("payments", "source", "Null characters are not allowed."),
        ("payments", "external_id", "Null characters are not allowed."),
        ("payments", "customer_ref", "Null characters are not allowed."),
        ("spend", "channel", "Null characters are not allowed."),
        ("spend", "campaign", "Null characters are not allowed."),
        ("payments", "channel", "payments has no channel column"),
        ("payments", "from", "'a\\x00b' is not a date (YYYY-MM-DD)"),
        ("spend", "to", "'a\\x00b' is not a date (YYYY-MM-DD)"),
    ],
)
def test_a_nul_byte_in_any_filter_is_400(payments, dataset, name, message):
    status, body = get(payments, f"/api/v1/data/{dataset}/?{name}=a%00b")
    assert status == 400
    assert body["error"]["message"] == f"{name}: {message}"


@pytest.mark.parametrize(
    ("dataset", "query", "message"),
    [
        ("payments", "to=9999-12-31", "to: 9999-12-31 is after"),
        ("spend", "to=9999-12-31", "to: 9999-12-31 is after"),
        ("payments", "from=0001-01-01T00:00:00%2B05:00", "from: 0001-01-01 is before 1990-01-01"),
        ("payments", "to=9999-12-31T23:59:59-05:00", "to: 9999-12-31 is after"),
        ("spend", "from=0001-01-01", "from: 0001-01-01 is before 1990-01-01"),
    ],
)
def test_bounds_outside_the_days_data_may_have_are_400(payments, dataset, query, message):
    status, body = get(payments, f"/api/v1/data/{dataset}/?{query}")
    assert status == 400
    assert body["error"]["message"].startswith(message)


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/v1/data/payments/", {"HTTP_ACCEPT": "text/html"}),
        ("/api/v1/data/payments/?format=api&source=import", {}),
    ],
)
def test_the_browsable_api_lists_records_with_the_filter_and_upload_forms(payments, path, headers):
    response = payments.client("admin").get(path, **headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "p0" in page
    assert 'name="customer_ref"' in page  # the dataset's filters
    assert 'name="file"' in page  # the import form


def test_options_describes_the_import_upload(acme):
    response = acme.client("admin").options("/api/v1/data/payments/")
    assert response.status_code == 200
    assert response.json()["actions"]["POST"]["file"]["type"] == "file upload"
