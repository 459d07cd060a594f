"""Importing CSV and JSON files through /api/v1/data/<dataset>/."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from kpiplatform.data.models import DATASETS, MrrSegment, Payment, Spend
from kpiplatform.data.signals import data_changed

DOCS = Path(__file__).resolve().parent.parent / "docs" / "canonical-data.md"


def documented_examples() -> dict[str, str]:
    """The CSV example of each dataset in the Import section of docs/canonical-data.md."""
    text = DOCS.read_text().split("\n## Import", 1)[1]
    found = re.findall(r"### `(\w+)`.*?```csv\n(.*?)```", text, flags=re.S)
    return dict(found)


def url(dataset: str) -> str:
    return f"/api/v1/data/{dataset}/"


def post_csv(company, dataset: str, body: str, role: str = "admin"):
    return company.client(role).post(url(dataset), data=body.encode(), content_type="text/csv")


def post_json(company, dataset: str, items, role: str = "admin"):
    return company.client(role).post(
        url(dataset), data=json.dumps(items), content_type="application/json"
    )


PAYMENTS_CSV = """external_id,customer_ref,occurred_at,amount_minor,currency
ch_1,cus_1,2025-03-01T10:00:00Z,1000,EUR
ch_2,cus_1,2025-03-02T10:00:00+02:00,2500,EUR
ch_3,cus_2,2025-04-01T00:00:00Z,700,USD
"""


def test_every_dataset_is_documented_with_an_example():
    assert set(documented_examples()) == set(DATASETS)


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_documented_csv_example_imports(acme, dataset):
    example = documented_examples()[dataset]
    response = post_csv(acme, dataset, example)
    assert response.status_code == 201, response.json()
    rows = example.strip().count("\n")
    assert response.json() == {"dataset": dataset, "inserted": rows, "updated": 0, "unchanged": 0}
    with acme.activate():
        model = DATASETS[dataset]
        assert model.objects.filter(source="import").count() == rows


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_documented_example_imports_as_json_and_then_is_unchanged_as_csv(acme, dataset):
    example = documented_examples()[dataset]
    items = [
        {key: value for key, value in row.items() if value != ""}
        for row in csv.DictReader(io.StringIO(example))
    ]
    assert post_json(acme, dataset, items).status_code == 201
    again = post_csv(acme, dataset, example)
    assert again.status_code == 200
    assert again.json()["unchanged"] == len(items)


def test_json_with_native_types(acme):
    items = [
        {
            "external_id": "p1",
            "occurred_at": "2025-01-01T00:00:00Z",
            "amount_minor": 100,
            "currency": "EUR",
            "is_order": True,
            "customer_ref": None,
        },
    ]
    assert post_json(acme, "payments", items).status_code == 201
    with acme.activate():
        payment = Payment.objects.get(external_id="p1")
        assert payment.is_order is True
        assert payment.amount_minor == 100
        assert payment.source == "import"


def test_multipart_upload_of_csv_and_json_files(acme):
    client = acme.client("admin")
    upload = SimpleUploadedFile("payments.csv", PAYMENTS_CSV.encode(), content_type="text/csv")
    response = client.post(url("payments"), {"file": upload})
    assert response.status_code == 201
    assert response.json()["inserted"] == 3
    spend = [{"external_id": "s1", "spent_on": "2025-01-31", "amount_minor": 5, "currency": "USD"}]
    upload = SimpleUploadedFile("spend.json", json.dumps(spend).encode(), "application/json")
    assert client.post(url("spend"), {"file": upload}).status_code == 201
    with acme.activate():
        assert Spend.objects.count() == 1


def browser_session(company):
    """A logged-in browser: CSRF enforced as in production, the token from the cookie."""
    client = Client(HTTP_HOST=company.host, enforce_csrf_checks=True)
    with company.activate():
        client.force_login(company.user("admin"))
    connection.set_schema_to_public()
    assert client.get("/team/").status_code == 200  # a page with a form sets the CSRF cookie
    return client, client.cookies["csrftoken"].value


def test_a_logged_in_browser_uploads_a_csv_file_with_the_csrf_token(acme):
    client, token = browser_session(acme)
    upload = SimpleUploadedFile("payments.csv", PAYMENTS_CSV.encode(), content_type="text/csv")
    response = client.post(url("payments"), {"file": upload, "csrfmiddlewaretoken": token})
    assert response.status_code == 201, response.content
    assert response.json()["inserted"] == 3


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/csv", PAYMENTS_CSV),
        ("application/json", json.dumps(list(csv.DictReader(io.StringIO(PAYMENTS_CSV))))),
    ],
)
def test_a_logged_in_browser_posts_a_raw_file_with_the_csrf_header(acme, content_type, body):
    client, token = browser_session(acme)
    response = client.post(url("payments"), body, content_type=content_type, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201, response.content
    assert response.json()["inserted"] == 3
    with acme.activate():
        assert Payment.objects.count() == 3


@pytest.mark.parametrize("content_type", ["text/csv", "application/json", "multipart/form-data"])
def test_a_session_upload_without_the_csrf_token_is_403(acme, content_type):
    client, _ = browser_session(acme)
    if content_type == "multipart/form-data":
        upload = SimpleUploadedFile("payments.csv", PAYMENTS_CSV.encode(), "text/csv")
        response = client.post(url("payments"), {"file": upload})
    else:
        response = client.post(url("payments"), PAYMENTS_CSV, content_type=content_type)
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]
    with acme.activate():
        assert not Payment.objects.exists()


def test_reposting_identical_rows_changes_nothing(acme):
    assert post_csv(acme, "payments", PAYMENTS_CSV).status_code == 201
    with acme.activate():
        stamps = list(Payment.objects.order_by("id").values_list("updated_at", flat=True))
    response = post_csv(acme, "payments", PAYMENTS_CSV)
    assert response.status_code == 200
    assert response.json() == {"dataset": "payments", "inserted": 0, "updated": 0, "unchanged": 3}
    with acme.activate():
        assert list(Payment.objects.order_by("id").values_list("updated_at", flat=True)) == stamps


def test_changed_row_is_updated(acme):
    post_csv(acme, "payments", PAYMENTS_CSV)
    changed = PAYMENTS_CSV.replace(
        "ch_3,cus_2,2025-04-01T00:00:00Z,700", "ch_3,cus_2,2025-04-01T00:00:00Z,800"
    )
    response = post_csv(acme, "payments", changed)
    assert response.json() == {"dataset": "payments", "inserted": 0, "updated": 1, "unchanged": 2}


def test_bad_file_is_refused_whole_with_line_numbers_and_existing_rows_untouched(acme):
    post_csv(acme, "payments", PAYMENTS_CSV)
    with acme.activate():
        before = list(Payment.objects.order_by("id").values())
    bad = (
        "external_id,customer_ref,occurred_at,amount_minor,currency\n"
        "ch_1,cus_1,2025-03-01T10:00:00Z,9999,EUR\n"  # a valid change: must not be written
        "ch_9,cus_9,2025-03-01T10:00:00,100,EUR\n"  # naive datetime
        "ch_10,cus_9,2025-03-01T10:00:00Z,12.50,eur\n"  # not an integer, lower-case currency
        ",cus_9,2025-03-01T10:00:00Z,100,EUR\n"  # no external_id
    )
    response = post_csv(acme, "payments", bad)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_file"
    assert "nothing was imported" in error["message"]
    assert [(e["line"], e["column"]) for e in error["errors"]] == [
        (3, "occurred_at"),
        (4, "amount_minor"),
        (4, "currency"),
        (5, "external_id"),
    ]
    assert "time zone" in error["errors"][0]["message"]
    with acme.activate():
        assert list(Payment.objects.order_by("id").values()) == before


def test_error_in_a_later_page_rolls_back_earlier_pages(acme):
    lines = ["external_id,occurred_at,amount_minor,currency"]
    lines += [f"p{i},2025-01-01T00:00:00Z,{i},USD" for i in range(12_000)]
    lines.append("bad,2025-01-01T00:00:00Z,1,usd")
    response = post_csv(acme, "payments", "\n".join(lines))
    assert response.status_code == 400
    assert response.json()["error"]["errors"] == [
        {
            "line": 12_002,
            "column": "currency",
            "message": "'usd' is not an ISO 4217 currency code (3 upper-case letters)",
        }
    ]
    with acme.activate():
        assert not Payment.objects.exists()


def test_at_most_100_errors_are_listed(acme):
    lines = ["external_id,occurred_at,amount_minor,currency"]
    lines += [f"p{i},yesterday,1,USD" for i in range(150)]
    error = post_csv(acme, "payments", "\n".join(lines)).json()["error"]
    assert len(error["errors"]) == 100
    assert error["truncated"] is True


def test_json_errors_are_numbered_by_item(acme):
    items = [
        {
            "external_id": "ok",
            "occurred_at": "2025-01-01T00:00:00Z",
            "amount_minor": 1,
            "currency": "USD",
        },
        {
            "external_id": "bad",
            "occurred_at": "2025-01-01T00:00:00Z",
            "amount_minor": 1.5,
            "currency": "USD",
            "colour": "red",
        },
    ]
    error = post_json(acme, "payments", items).json()["error"]
    assert [(e["line"], e["column"]) for e in error["errors"]] == [
        (2, "colour"),
        (2, "amount_minor"),
    ]


@pytest.mark.parametrize(
    ("dataset", "body", "column", "message"),
    [
        (
            "payments",
            "external_id,occurred_at,amount_minor,currency,kind\np,2025-01-01T00:00:00Z,1,USD,gift",
            "kind",
            "not one of",
        ),
        (
            "payments",
            "external_id,occurred_at,amount_minor\np,2025-01-01T00:00:00Z,1",
            "currency",
            "required column missing",
        ),
        (
            "payments",
            "external_id,occurred_at,amount_minor,currency,colour\np,2025-01-01T00:00:00Z,1,USD,red",
            "colour",
            "unknown column",
        ),
        (
            "payments",
            "external_id,occurred_at,amount_minor,currency\np,2025-01-01T00:00:00Z,-5,USD",
            "amount_minor",
            "negative",
        ),
        (
            "mrr_segments",
            "external_id,customer_ref,starts_on,ends_on,mrr_minor,currency\nm,c,2025-03-01,2025-03-01,100,USD",
            "ends_on",
            "after starts_on",
        ),
        (
            "mrr_segments",
            "external_id,customer_ref,starts_on,mrr_minor,currency\nm,c,01/03/2025,100,USD",
            "starts_on",
            "YYYY-MM-DD",
        ),
        (
            "survey_responses",
            "external_id,kind,score,scale_min,scale_max,responded_at\ns,nps,11,0,10,2025-01-01T00:00:00Z",
            "score",
            "between",
        ),
        (
            "exchange_rates",
            "external_id,day,currency,rate\nr,2025-01-01,EUR,abc",
            "rate",
            "not a number",
        ),
        ("customers", "external_id,country\nc,France", "country", "ISO 3166"),
        ("plans", "external_id,currency,interval_count\np,USD,-1", "interval_count", "at least 0"),
        (
            "payments",
            "external_id,occurred_at,amount_minor,currency\np,2025-01-01T00:00:00Z,1,USD\np,2025-01-02T00:00:00Z,1,USD",
            "external_id",
            "already on line 2",
        ),
        (
            "payments",
            "external_id,occurred_at,amount_minor,currency,is_order\np,2025-01-01T00:00:00Z,1,USD,maybe",
            "is_order",
            "true or false",
        ),
    ],
)
def test_invalid_values_are_explained(acme, dataset, body, column, message):
    response = post_csv(acme, dataset, body)
    assert response.status_code == 400
    errors = response.json()["error"]["errors"]
    assert any(e["column"] == column and message in e["message"] for e in errors), errors
    with acme.activate():
        assert not DATASETS[dataset].objects.exists()


@pytest.mark.parametrize(
    ("dataset", "row", "column", "message"),
    [
        ("spend", "s,2025-01-01,100,XYZ", "currency", "'XYZ' is not an ISO 4217 currency code"),
        ("spend", "s,2025-01-01,-100,USD", "amount_minor", "must not be negative"),
        ("customers", "c,ZZ", "country", "'ZZ' is not an ISO 3166 country code"),
        ("web_traffic", "w,2025-01-01,-3", "sessions", "must not be negative"),
        ("mrr_segments", "m,c,2025-01-01,-1,USD", "mrr_minor", "must not be negative"),
    ],
)
def test_unknown_codes_and_negative_amounts_are_row_errors(acme, dataset, row, column, message):
    header = {
        "spend": "external_id,spent_on,amount_minor,currency",
        "customers": "external_id,country",
        "web_traffic": "external_id,day,sessions",
        "mrr_segments": "external_id,customer_ref,starts_on,mrr_minor,currency",
    }[dataset]
    response = post_csv(acme, dataset, f"{header}\n{row}\n")
    assert response.status_code == 400
    (error,) = response.json()["error"]["errors"]
    assert (error["line"], error["column"]) == (2, column)
    assert message in error["message"]
    with acme.activate():
        assert not DATASETS[dataset].objects.exists()


def test_one_row_spend_dated_year_1_is_refused_and_nothing_is_written(acme):
    changes = []

    def listener(sender, **kwargs):
        changes.append(kwargs["changes"])

    data_changed.connect(listener, weak=False)
    try:
        response = post_csv(
            acme, "spend", "external_id,spent_on,amount_minor,currency\ns1,0001-01-01,100,USD\n"
        )
    finally:
        data_changed.disconnect(listener)
    assert response.status_code == 400
    assert response.json()["error"]["errors"] == [
        {
            "line": 2,
            "column": "spent_on",
            "message": "0001-01-01 is before 1990-01-01, the earliest day accepted",
        }
    ]
    assert changes == []
    with acme.activate():
        assert not Spend.objects.exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        # Outside years 1-9999 once converted to UTC: never converted, refused by their day.
        ("0001-01-01T00:00:00+05:00", "0001-01-01 is before 1990-01-01"),
        ("9999-12-31T23:59:59-05:00", "9999-12-31 is after"),
        ("1989-12-31T23:59:59Z", "1989-12-31 is before 1990-01-01"),
        ("2500-06-01T00:00:00Z", "2500-06-01 is after"),
    ],
)
def test_timestamps_outside_the_accepted_days_are_row_errors_in_csv_and_json(acme, value, message):
    csv_body = f"external_id,occurred_at,amount_minor,currency\np,{value},1,USD\n"
    item = {"external_id": "p", "occurred_at": value, "amount_minor": 1, "currency": "USD"}
    for response in (post_csv(acme, "payments", csv_body), post_json(acme, "payments", [item])):
        assert response.status_code == 400
        (error,) = response.json()["error"]["errors"]
        assert error["column"] == "occurred_at"
        assert message in error["message"]
    with acme.activate():
        assert not Payment.objects.exists()


def test_the_accepted_days_follow_the_settings(acme, settings):
    settings.KPI_DATA_FIRST_YEAR = 2020
    settings.KPI_DATA_MAX_YEARS_AHEAD = 0
    this_year = dt.datetime.now(dt.UTC).year
    body = "external_id,spent_on,amount_minor,currency\n"
    too_early = post_csv(acme, "spend", body + "s,2019-12-31,1,USD\n")
    assert "before 2020-01-01" in too_early.json()["error"]["errors"][0]["message"]
    too_late = post_csv(acme, "spend", body + f"s,{this_year + 1}-01-01,1,USD\n")
    assert f"after {this_year}-12-31" in too_late.json()["error"]["errors"][0]["message"]
    ok = post_csv(acme, "spend", body + f"s,2020-01-01,1,USD\nt,{this_year}-12-31,1,USD\n")
    assert ok.status_code == 201, ok.json()


def test_empty_and_malformed_files_are_refused(acme):
    empty = post_csv(acme, "payments", "\n")
    assert empty.status_code == 400
    assert "empty" in empty.json()["error"]["errors"][0]["message"]
    response = acme.client("admin").post(
        url("payments"), data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["errors"][0]["message"]
    response = post_json(acme, "payments", {"external_id": "x"})
    assert "array" in response.json()["error"]["errors"][0]["message"]


def test_unsupported_content_type_is_415(acme):
    response = acme.client("admin").post(url("payments"), data="x", content_type="text/plain")
    assert response.status_code == 415


def test_viewers_and_analysts_cannot_import(acme):
    for role in ("viewer", "analyst"):
        response = post_csv(acme, "payments", PAYMENTS_CSV, role=role)
        assert response.status_code == 403
        assert "Admin" in response.json()["error"]["message"]
    assert (
        acme.client(None)
        .post(url("payments"), data=PAYMENTS_CSV, content_type="text/csv")
        .status_code
        == 401
    )
    with acme.activate():
        assert not Payment.objects.exists()


def test_oversized_file_is_refused_with_413(acme, settings):
    settings.KPI_IMPORT_MAX_BYTES = 100
    response = post_csv(acme, "payments", PAYMENTS_CSV)
    assert response.status_code == 413
    assert "larger than the import limit" in response.json()["error"]["message"]


def test_oversized_stream_without_length_is_refused_while_reading(acme, settings):
    from kpiplatform.data.importing import FileTooLarge, import_file

    settings.KPI_IMPORT_MAX_BYTES = 100
    with acme.activate(), pytest.raises(FileTooLarge):
        import_file("payments", io.BytesIO(PAYMENTS_CSV.encode() * 10), "csv", 100)


def test_unknown_dataset_is_404(acme):
    response = post_csv(acme, "invoices", PAYMENTS_CSV)
    assert response.status_code == 404
    assert "Unknown dataset 'invoices'" in response.json()["error"]["message"]


def test_delete_tombstones_an_imported_record_and_reimport_revives_it(acme):
    post_csv(acme, "payments", PAYMENTS_CSV)
    client = acme.client("admin")
    assert client.delete(url("payments") + "ch_1/").status_code == 204
    with acme.activate():
        assert Payment.objects.get(external_id="ch_1").deleted_at is not None
    assert client.delete(url("payments") + "ch_1/").status_code == 404
    assert acme.client("viewer").delete(url("payments") + "ch_2/").status_code == 403
    response = post_csv(acme, "payments", PAYMENTS_CSV)
    assert response.json() == {"dataset": "payments", "inserted": 0, "updated": 1, "unchanged": 2}
    with acme.activate():
        assert Payment.objects.get(external_id="ch_1").deleted_at is None


def test_import_sends_data_changed_with_the_touched_days(acme):
    received = []

    def listener(sender, changes, schema_name, **kwargs):
        received.append((schema_name, dict(changes.ranges)))

    data_changed.connect(listener)
    try:
        body = (
            "external_id,customer_ref,starts_on,ends_on,mrr_minor,currency\n"
            "m1,c1,2025-02-01,2025-05-01,100,EUR\nm2,c1,2025-05-01,,150,EUR\n"
        )
        post_csv(acme, "mrr_segments", body)
        post_csv(acme, "mrr_segments", body)  # unchanged: no signal
        post_csv(
            acme, "payments", "external_id,occurred_at,amount_minor,currency\nbad,2025-01-01,1,USD"
        )
    finally:
        data_changed.disconnect(listener)
    assert received == [
        (acme.schema_name, {"mrr_segments": (dt.date(2025, 2, 1), dt.date(2025, 5, 1))})
    ]
    with acme.activate():
        assert MrrSegment.objects.count() == 2


def test_one_company_never_sees_another_companys_imports(acme, globex):
    post_csv(acme, "payments", PAYMENTS_CSV)
    assert globex.client("admin").get(url("payments")).json()["count"] == 0
    assert acme.client("viewer").get(url("payments")).json()["count"] == 3
    # The same external id imported by globex is a separate record.
    assert post_csv(globex, "payments", PAYMENTS_CSV).json()["inserted"] == 3
    assert globex.client("admin").delete(url("payments") + "ch_1/").status_code == 204
    with acme.activate():
        assert Payment.objects.get(external_id="ch_1").deleted_at is None
