"""A real Celery worker (Redis broker) SIGKILLed in the middle of a Stripe sync: after
redelivery the data equals the sandbox's exactly, with no duplicates."""

from __future__ import annotations

import copy
import os
import signal
import uuid

import pytest
from django.db import connection
from kpiplatform_stripe import segments
from kpiplatform_stripe.sandbox import Sandbox
from stripe_helpers import API_KEY, WEBHOOK_SECRET

from kpiplatform.connectors.models import SourceObject, SyncRun
from kpiplatform.data.models import Customer, MrrSegment, Payment, Subscription
from kpiplatform.testing.companies import create_test_company
from kpiplatform.testing.processes import child_pids, start_celery_worker, wait_until


@pytest.mark.worker
def test_a_worker_killed_mid_sync_leaves_exactly_the_sandbox_data(
    standing_companies, django_db_blocker, task_queue, tmp_path, seed
):
    sandbox = Sandbox(copy.deepcopy(seed), keys=(API_KEY,)).start()
    stall = sandbox.stall("/v1/invoices")  # the first invoices page waits for us
    slug = f"s{uuid.uuid4().hex[:10]}"
    with django_db_blocker.unblock():
        company = create_test_company(slug)
        connection.set_schema_to_public()
        worker = start_celery_worker(
            task_queue,
            tmp_path / "worker.log",
            env={"CELERY_TASK_DEFAULT_QUEUE": task_queue, "KPI_STRIPE_API_BASE": sandbox.url},
            pool="prefork",
        )
        try:
            client = company.client("admin")
            created = client.post(
                "/api/v1/connections/",
                {
                    "connector": "stripe",
                    "config": {},
                    "secrets": {"api_key": API_KEY, "webhook_secret": WEBHOOK_SECRET},
                    "schedule_minutes": 0,
                },
                content_type="application/json",
            ).json()
            url = f"/api/v1/connections/{created['id']}/"
            assert client.post(url + "sync/").status_code == 202

            def ids(model, **filters) -> list[str]:
                with company.activate():
                    return sorted(
                        model.objects.filter(source="stripe", **filters).values_list(
                            "external_id", flat=True
                        )
                    )

            wait_until(stall.waiting.is_set, worker, "the sync to reach the invoices")
            # Pages are read ahead of their writes: what came before is stored meanwhile,
            # every customer and subscription.
            wait_until(
                lambda: len(ids(Subscription)) == len(seed["subscriptions"]),
                worker,
                "the pages before the invoices to be stored",
            )
            assert len(ids(Customer)) == len(seed["customers"])
            live = client.get(url + "runs/").json()["results"][0]
            assert live["status"] == "running" and live["pages"] > 0

            (pool_process,) = child_pids(worker.pid)
            os.kill(pool_process, signal.SIGKILL)
            stall.release()

            def finished() -> bool:
                with company.activate():
                    return SyncRun.objects.get().status == SyncRun.Status.SUCCEEDED

            wait_until(finished, worker, "the redelivered sync")
            got = {
                "customers": ids(Customer),
                "subscriptions": ids(Subscription),
                "payments": ids(Payment),
                "mrr_segments": ids(MrrSegment, deleted_at=None),
            }
            with company.activate():
                kept_invoices = SourceObject.objects.filter(kind="invoice").count()
                run = SyncRun.objects.get()
        finally:
            output = worker.stop()
            sandbox.stop()
            connection.set_schema_to_public()
            company.company.delete(force_drop=True)
    assert f"pid:{pool_process} exited with 'signal 9 (SIGKILL)'" in output, output
    prices = {p["id"]: p for p in seed["prices"]}
    invoices: dict[str, list] = {}
    for inv in seed["invoices"]:
        invoices.setdefault(inv["parent"]["subscription_details"]["subscription"], []).append(inv)
    expected_segments = sorted(
        r["external_id"]
        for sub in seed["subscriptions"]
        for r in segments.derive(sub, invoices.get(sub["id"], []), prices)
    )
    assert got == {
        "customers": sorted(c["id"] for c in seed["customers"]),
        "subscriptions": sorted(s["id"] for s in seed["subscriptions"]),
        "payments": sorted([c["id"] for c in seed["charges"]] + [r["id"] for r in seed["refunds"]]),
        "mrr_segments": expected_segments,
    }
    assert kept_invoices == len(seed["invoices"])
    assert run.counts["customers"]["read"] == len(seed["customers"])  # read once: resumed
    assert API_KEY not in output and WEBHOOK_SECRET not in output
