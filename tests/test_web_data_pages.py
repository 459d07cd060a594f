"""The data pages: datasets with their counts, a dataset's records with the read API's
filters, the column template and example file, and the upload with a preview before the
write (through the same import as ``POST /api/v1/data/<dataset>/``)."""

from __future__ import annotations

import csv
import io
import os
import re
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from kpiplatform.data.examples import EXAMPLES
from kpiplatform.data.models import DATASETS, Spend
from kpiplatform.kpis.models import PendingChange
from kpiplatform.testing.companies import PASSWORD
from kpiplatform.testing.data import load_records

DOCS = Path(__file__).resolve().parent.parent / "docs" / "canonical-data.md"

SPEND_CSV = (
    "external_id,spent_on,channel,campaign,amount_minor,currency\n"
    "s1,2025-01-31,paid_search,winter,250000,USD\n"
    "s2,2025-02-28,paid_social,,80000,USD\n"
    "s3,2025-03-31,paid_search,spring,120000,USD\n"
)
BAD_SPEND_CSV = (
    "external_id,spent_on,channel,campaign,amount_minor,currency\n"
    "s1,2025-01-31,paid_search,winter,250000,USD\n"
    "s2,2025-02-30,paid_social,,80000,USD\n"
    "s3,2025-03-31,paid_search,spring,-5,USD\n"
)


@pytest.fixture(autouse=True)
def uploads_in_tmp(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path / "uploads"


def spend_rows(company) -> list[tuple]:
    with company.activate():
        spend = Spend.objects.order_by("external_id")
        rows = list(spend.values_list("external_id", "amount_minor"))
    connection.set_schema_to_public()
    return rows


def upload(client, dataset: str, body: str, name: str = "spend.csv"):
    file = SimpleUploadedFile(name, body.encode(), content_type="text/csv")
    return client.post(f"/data/{dataset}/upload/", {"file": file})


def write_url(response) -> str:
    match = re.search(r'action="(/data/[^"]+/write/)"', response.content.decode())
    assert match, "the preview has a write button"
    return match.group(1)


# --- listing and browsing ------------------------------------------------------------------


def test_data_lists_every_dataset_with_its_count_and_a_link(acme):
    with acme.activate():
        load_records("spend", [{"spent_on": "2025-01-31", "amount_minor": 1, "currency": "USD"}])
    connection.set_schema_to_public()
    response = acme.client("viewer").get("/data/")
    assert response.status_code == 200
    counts = {d["name"]: d["count"] for d in response.context["datasets"]}
    assert set(counts) == set(DATASETS)
    assert counts["spend"] == 1 and counts["payments"] == 0
    html = response.content.decode()
    for name in DATASETS:
        assert f'href="/data/{name}/"' in html
    assert 'href="/data/"' in html  # in the navigation


def test_a_dataset_is_browsed_with_the_read_api_filters_and_paginated(acme):
    with acme.activate():
        load_records(
            "spend",
            [
                {
                    "external_id": f"s{i:03d}",
                    "spent_on": f"2025-{1 + i % 3:02d}-01",
                    "channel": "paid_search" if i % 2 else "organic",
                    "amount_minor": i,
                    "currency": "USD",
                }
                for i in range(300)
            ],
        )
    connection.set_schema_to_public()
    client = acme.client("viewer")
    everything = client.get("/data/spend/")
    assert everything.status_code == 200
    assert everything.context["page"].paginator.count == 300
    assert len(everything.context["page"].object_list) == 50
    filtered = client.get("/data/spend/", {"channel": "paid_search", "from": "2025-02-01"})
    assert filtered.status_code == 200
    page = filtered.context["page"]
    expected = [i for i in range(300) if i % 2 and 1 + i % 3 >= 2]
    assert page.paginator.count == len(expected)
    # The next page keeps the filters.
    html = filtered.content.decode()
    assert "channel=paid_search&amp;from=2025-02-01&amp;page=2" in html
    second = client.get("/data/spend/", {"channel": "paid_search", "from": "2025-02-01", "page": 2})
    names = second.context["columns"]
    ids = [row[names.index("external_id")] for row in second.context["page"].object_list]
    assert ids == [f"s{i:03d}" for i in expected[50:]]


def test_the_page_lists_the_records_the_read_api_lists_for_the_same_filters(acme):
    with acme.activate():
        load_records(
            "payments",
            [
                {
                    "external_id": f"p{i}",
                    "customer_ref": "c1" if i % 2 else "c2",
                    "occurred_at": f"2025-03-{1 + i:02d}T23:30:00-02:00",
                    "amount_minor": 100,
                    "currency": "EUR",
                }
                for i in range(10)
            ],
        )
    connection.set_schema_to_public()
    client = acme.client("viewer")
    # A date bound is a whole UTC day: p7 at 2025-03-08T23:30-02:00 is on 2025-03-09 in UTC.
    query = {"customer_ref": "c1", "from": "2025-03-04", "to": "2025-03-08"}
    api = client.get("/api/v1/data/payments/", query).json()
    page = client.get("/data/payments/", query)
    names = page.context["columns"]
    ids = [row[names.index("external_id")] for row in page.context["page"].object_list]
    assert ids == [row["external_id"] for row in api["results"]] == ["p3", "p5"]


def test_a_bad_filter_is_a_400_that_names_it(acme):
    client = acme.client("viewer")
    bad_date = client.get("/data/spend/", {"from": "2025-13-01"})
    assert bad_date.status_code == 400
    assert "from: &#x27;2025-13-01&#x27; is not a date" in bad_date.content.decode()
    not_a_column = client.get("/data/exchange_rates/", {"channel": "x"})
    assert not_a_column.status_code == 400
    assert "exchange_rates has no channel column" in not_a_column.content.decode()
    assert client.get("/data/no_such/").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(acme):
    for path in ("/data/", "/data/spend/", "/data/spend/template.csv"):
        response = acme.client(None).get(path)
        assert response.status_code == 302 and "/login/" in response["Location"]


# --- template and example -------------------------------------------------------------------


def documented_examples() -> dict[str, str]:
    text = DOCS.read_text().split("\n## Import", 1)[1]
    return dict(re.findall(r"### `(\w+)`.*?```csv\n(.*?)```", text, flags=re.S))


def test_the_example_files_are_the_documented_ones():
    assert documented_examples() == EXAMPLES


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_template_and_example_download_and_the_example_imports(acme, dataset):
    client = acme.client("viewer")
    template = client.get(f"/data/{dataset}/template.csv")
    assert template.status_code == 200
    assert template["Content-Disposition"] == f'attachment; filename="{dataset}_template.csv"'
    header = next(csv.reader(io.StringIO(template.content.decode())))
    assert "external_id" in header
    example = client.get(f"/data/{dataset}/example.csv")
    assert example["Content-Disposition"] == f'attachment; filename="{dataset}_example.csv"'
    body = example.content.decode()
    # Every column of the example is in the template, and the example writes as it is.
    assert set(next(csv.reader(io.StringIO(body)))) <= set(header)
    uploader = acme.client("admin")
    preview = upload(uploader, dataset, body, f"{dataset}.csv")
    assert preview.status_code == 200, preview.context.get("checked")
    assert uploader.post(write_url(preview)).status_code == 302
    with acme.activate():
        assert DATASETS[dataset].objects.count() == body.strip().count("\n")


# --- upload: preview, then write -----------------------------------------------------------------


def test_preview_shows_every_row_error_and_writes_nothing(acme, uploads_in_tmp):
    client = acme.client("admin")
    response = upload(client, "spend", BAD_SPEND_CSV)
    assert response.status_code == 400
    errors = [(e.line, e.column) for e in response.context["checked"].errors]
    assert errors == [(3, "spent_on"), (4, "amount_minor")]
    html = response.content.decode()
    assert "nothing was written" in html
    assert "must not be negative" in html
    assert "/write/" not in html
    assert spend_rows(acme) == []
    # A file that can never be written is not kept.
    assert not any(uploads_in_tmp.rglob("*.csv"))


def test_preview_shows_the_first_rows_then_write_imports_them_and_schedules_a_recompute(
    acme, uploads_in_tmp
):
    client = acme.client("admin")
    preview = upload(client, "spend", SPEND_CSV)
    assert preview.status_code == 200
    checked = preview.context["checked"]
    assert checked.rows == 3
    assert [r["external_id"] for r in checked.first_records] == ["s1", "s2", "s3"]
    assert "paid_social" in preview.content.decode()
    assert spend_rows(acme) == []  # previewing writes nothing
    with acme.activate():
        assert not PendingChange.objects.exists()
    connection.set_schema_to_public()
    written = client.post(write_url(preview))
    assert written.status_code == 302 and written["Location"] == "/data/spend/"
    assert spend_rows(acme) == [("s1", 250000), ("s2", 80000), ("s3", 120000)]
    with acme.activate():
        assert PendingChange.objects.filter(dataset="spend").exists()
    connection.set_schema_to_public()
    page = client.get("/data/spend/")
    assert "3 new, 0 updated, 0 unchanged" in page.content.decode()
    assert page.context["page"].paginator.count == 3
    # The kept file is gone, and the same write cannot be replayed.
    assert not any(uploads_in_tmp.rglob("*.csv"))
    assert client.post(write_url(preview)).status_code == 404


def test_a_previewed_file_left_unwritten_for_a_day_is_deleted_by_the_next_upload(
    acme, uploads_in_tmp
):
    client = acme.client("admin")
    stale = write_url(upload(client, "spend", SPEND_CSV))
    (kept,) = uploads_in_tmp.rglob("*.csv")
    day_ago = time.time() - 24 * 3600 - 1
    os.utime(kept, (day_ago, day_ago))
    fresh = write_url(upload(client, "spend", SPEND_CSV))
    assert not kept.exists()
    assert client.post(stale).status_code == 404
    assert client.post(fresh).status_code == 302
    assert len(spend_rows(acme)) == 3


def test_json_upload_previews_and_writes(acme):
    client = acme.client("admin")
    body = '[{"external_id": "j1", "spent_on": "2025-01-31", "amount_minor": 5, "currency": "EUR"}]'
    file = SimpleUploadedFile("spend.json", body.encode(), content_type="application/json")
    preview = client.post("/data/spend/upload/", {"file": file})
    assert preview.status_code == 200
    assert client.post(write_url(preview)).status_code == 302
    assert spend_rows(acme) == [("j1", 5)]


def test_malformed_and_oversized_files_get_readable_errors(acme, settings):
    client = acme.client("admin")
    empty = upload(client, "spend", "")
    assert empty.status_code == 400
    assert "the file is empty" in empty.content.decode()
    not_json = SimpleUploadedFile("x.json", b"{nope", content_type="application/json")
    response = client.post("/data/spend/upload/", {"file": not_json})
    assert response.status_code == 400
    assert response.context["checked"].errors
    assert client.post("/data/spend/upload/", {}).status_code == 400
    settings.KPI_IMPORT_MAX_BYTES = 10
    too_large = upload(client, "spend", SPEND_CSV)
    assert too_large.status_code == 413
    assert "larger than the import limit" in too_large.content.decode()
    assert spend_rows(acme) == []


def test_viewers_and_analysts_cannot_upload_or_write_and_see_no_upload_form(acme):
    # Imports are an admin's, on the page as through the API.
    preview = upload(acme.client("admin"), "spend", SPEND_CSV)
    for role in ("viewer", "analyst"):
        member = acme.client(role)
        assert 'name="file"' not in member.get("/data/spend/").content.decode()
        assert upload(member, "spend", SPEND_CSV).status_code == 403
        assert member.post(write_url(preview)).status_code == 403
    assert spend_rows(acme) == []


def test_an_upload_is_written_only_by_its_own_session_in_its_own_company(acme, globex):
    uploader = acme.client("admin")
    preview = upload(uploader, "spend", SPEND_CSV)
    url = write_url(preview)
    # Another user of acme, and a user of globex with the same id: neither finds it.
    assert acme.client("admin").post(url).status_code == 404
    assert globex.client("admin").post(url).status_code == 404
    assert spend_rows(acme) == [] and spend_rows(globex) == []
    written = uploader.post(url)
    assert written.status_code == 302 and written["Location"] == "/data/spend/"
    # The dataset page lists only the company's own records.
    assert globex.client("viewer").get("/data/spend/").context["page"].paginator.count == 0
    assert acme.client("viewer").get("/data/spend/").context["page"].paginator.count == 3
    # acme's session on globex's host is no login there.
    url = write_url(upload(uploader, "spend", SPEND_CSV))
    crossing = uploader.post(url, HTTP_HOST=globex.host)
    assert crossing.status_code == 302 and "/login/" in crossing["Location"]
    assert spend_rows(globex) == []


# --- the same in a real browser ---------------------------------------------------------------


def test_an_admin_uploads_the_spend_csv_previews_writes_and_sees_the_rows(
    own_company, live_app, browser_page, screenshots, django_db_blocker, tmp_path
):
    page, errors = browser_page
    company = own_company
    spend_file = tmp_path / "spend.csv"
    spend_file.write_text(SPEND_CSV)

    page.goto(live_app.url(company.host, "/"))
    page.get_by_label("E-mail").fill(company.email("admin"))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))
    page.get_by_role("link", name="Data", exact=True).click()
    page.wait_for_url(re.compile(r"/data/$"))
    screenshots.take(page, "datasets")
    page.get_by_role("link", name="spend", exact=True).click()
    page.wait_for_url(re.compile(r"/data/spend/$"))
    assert page.locator(".records-count").inner_text() == "0 records"

    # A file with bad rows first: the errors name their lines, and nothing is written.
    bad_file = tmp_path / "bad-spend.csv"
    bad_file.write_text(BAD_SPEND_CSV)
    page.get_by_label("CSV or JSON file").set_input_files(str(bad_file))
    page.get_by_role("button", name="Preview").click()
    page.wait_for_url(re.compile(r"/data/spend/upload/$"))
    error_rows = page.locator("table.row-errors tbody tr")
    assert [error_rows.nth(i).locator("td").first.inner_text() for i in range(2)] == ["3", "4"]
    assert "must not be negative" in error_rows.nth(1).inner_text()
    assert page.get_by_role("button", name=re.compile("^Write")).count() == 0
    screenshots.take(page, "bad rows")
    with django_db_blocker.unblock():
        assert spend_rows(company) == []
    page.get_by_role("link", name="← spend").click()
    page.wait_for_url(re.compile(r"/data/spend/$"))

    page.get_by_label("CSV or JSON file").set_input_files(str(spend_file))
    page.get_by_role("button", name="Preview").click()
    page.wait_for_url(re.compile(r"/data/spend/upload/$"))
    preview = page.locator("table.preview tbody tr")
    assert preview.count() == 3
    assert "paid_social" in preview.nth(1).inner_text()
    screenshots.take(page, "preview")
    with django_db_blocker.unblock():
        assert spend_rows(company) == []  # nothing written yet

    page.get_by_role("button", name="Write 3 rows").click()
    page.wait_for_url(re.compile(r"/data/spend/$"))
    assert "3 new, 0 updated, 0 unchanged" in page.locator(".messages").inner_text()
    assert page.locator(".records-count").inner_text() == "3 records"
    assert page.locator("table.records tbody tr").count() == 3
    screenshots.take(page, "written")
    with django_db_blocker.unblock():
        assert spend_rows(company) == [("s1", 250000), ("s2", 80000), ("s3", 120000)]
    # Chromium logs the refused upload's 400 (the page answers a bad file with a client
    # error); nothing else went wrong.
    assert errors.messages == [
        "console: Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]
