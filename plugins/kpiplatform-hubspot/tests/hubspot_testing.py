"""Helpers of the HubSpot connector's tests: a company's connection to the sandbox through
the API, a sync run as the worker runs it, and the records the API reads back."""

from __future__ import annotations

import uuid

TOKEN = "pat-na1-" + uuid.uuid4().hex  # searched for in every answer, log line and message


def connect(company, token: str = TOKEN) -> int:
    response = company.client("admin").post(
        "/api/v1/connections/",
        {"connector": "hubspot", "secrets": {"access_token": token}, "schedule_minutes": 0},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def sync_now(company, connection_id: int) -> dict:
    """Queue a sync through the API and run it as the worker's task does; the run as the
    API shows it."""
    from kpiplatform.connectors import sync

    client = company.client("admin")
    answer = client.post(f"/api/v1/connections/{connection_id}/sync/")
    assert answer.status_code == 202, answer.content
    with company.activate():
        sync.run(connection_id)
    runs = client.get(f"/api/v1/connections/{connection_id}/runs/").json()["results"]
    return runs[0]


def rows(company, dataset: str, include_deleted: bool = False) -> dict[str, dict]:
    """The company's records of ``dataset`` from HubSpot, by external id, as the API reads."""
    found: dict[str, dict] = {}
    page = 1
    while True:
        params = {"source": "hubspot", "page": page, "page_size": 1000}
        if include_deleted:
            params["include_deleted"] = "true"
        answer = company.client("viewer").get(f"/api/v1/data/{dataset}/", params)
        assert answer.status_code == 200, answer.content
        body = answer.json()
        found.update({r["external_id"]: r for r in body["results"]})
        if not body.get("next"):
            return found
        page += 1
