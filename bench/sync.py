"""Stripe sync benchmark: a full sync against the same pages read with the bare SDK, the
worker's peak memory, and the freshness of a webhook.

    python -m bench.sync [--customers 50000] [--months 10] [--events 20]
                         [--latency-ms 0 50] [--seed FILE]
                         (on the benchmark database, see bench/database.py)

1. Generates a company with the sandbox's generator (outside the timings; ``--customers``
   and ``--months`` set the size: 50,000 customers over 10 months make about 200,000
   invoices) and serves it with the sandbox, in a process of its own.
2. For each ``--latency-ms`` (added by the sandbox to every answer; 0 is bare loopback):
   - **Bare SDK**: a separate process lists every resource the connector lists (same
     endpoints, same parameters, pages of 100, one request at a time) with
     ``stripe.StripeClient``, writing nothing.
   - **Full sync**: a real Celery worker (solo pool) runs the connector's backfill, writing
     every page, its source objects, derived segments and payments, and the recomputes the
     writes trigger. Objects per second over the run's start and end, against the bare
     read; target >= 0.70. The worker's peak resident memory (VmHWM); target < 500 MB.
3. **Freshness**: ``--events`` times, a coupon is applied to a subscription in the sandbox
   (now in this process, same data, the last latency), its event posted to the connection's
   webhook, and the MRR KPI read through the API until it changes; p95 target < 10 s.

Why a latency: on loopback the bare read costs only decoding JSON (about 29,000 objects/s
here), while the sync also stores every object as jsonb and derives from it, on the same two
cores; that race measures CPU, not how a sync keeps up with Stripe. Stripe answers a list
page of 100 in a few hundred milliseconds, so 50 ms, a sixth of that, is the default model
of a real upstream; the loopback row stays in the table as the CPU-bound figure.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kpiplatform_stripe.plugin import LIST_STAGES

from bench.database import setup_django

BENCH_SLUG = "syncbench"
KEY = "sk_test_bench_" + "5f1c0d9e7a2b"
WEBHOOK_SECRET = "whsec_bench_" + "c2a9f1e0"
# What the full sync lists.
LISTED = LIST_STAGES


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bare_read(base: str, typed: bool) -> None:
    """(In its own process) list everything with the bare SDK, through the same requests the
    connector makes (``StripeClient.raw_request``, same endpoints and parameters, pages of
    100) and, for comparison, through its typed ``list`` methods; print objects and seconds.
    Nothing is written."""
    import stripe
    from kpiplatform_stripe.plugin import LIST_PARAMS

    client = stripe.StripeClient(KEY, base_addresses={"api": base}, max_network_retries=0)
    out = {}
    for how in ("raw", "typed") if typed else ("raw",):
        began, objects = time.perf_counter(), 0
        for resource in LISTED:
            after = None
            while True:
                params = {"limit": 100, **LIST_PARAMS.get(resource, {})}
                if after:
                    params["starting_after"] = after
                if how == "raw":
                    page = client.raw_request("get", f"/v1/{resource}", **params).data
                else:
                    page = getattr(client.v1, resource).list(params=params).last_response.data
                data = page["data"]
                objects += len(data)
                if not page["has_more"] or not data:
                    break
                after = data[-1]["id"]
        out[how] = {"objects": objects, "seconds": time.perf_counter() - began}
    print(json.dumps(out))


def start_sandbox(seed_file: Path, port: int, latency_ms: float = 0) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kpiplatform_stripe.sandbox",
            "--port",
            str(port),
            "--seed",
            str(seed_file),
            "--key",
            KEY,
            "--latency-ms",
            str(latency_ms),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    assert line.startswith("listening on"), line
    return process


def peak_memory_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_company():
    from django.db import connection

    from kpiplatform.tenants.models import Company
    from kpiplatform.testing.companies import create_test_company

    connection.set_schema_to_public()
    old = Company.objects.filter(slug=BENCH_SLUG).first()
    if old is not None:
        old.delete(force_drop=True)
    return create_test_company(BENCH_SLUG, "Sync Bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--months", type=int, default=10)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument(
        "--latency-ms",
        type=float,
        nargs="+",
        default=[0, 50],
        help="the sandbox's added latency per answer, one bare read and full sync each",
    )
    parser.add_argument(
        "--typed", action="store_true", help="also time the SDK's typed list methods (slow)"
    )
    parser.add_argument(
        "--seed",
        type=Path,
        help="a seed file written by an earlier run or by the generator (--out): served as "
        "it is instead of generating one (--customers and --months are then ignored)",
    )
    parser.add_argument("--bare-read", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_read:
        return bare_read(args.bare_read, args.typed)

    from kpiplatform_stripe.sandbox.generate import generate

    began = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="syncbench-"))
    if args.seed:
        seed_file = args.seed
        seed = json.loads(seed_file.read_text())
    else:
        seed = generate(customers=args.customers, months=args.months)
        seed_file = tmp / "seed.json"
        seed_file.write_text(json.dumps(seed, separators=(",", ":")))
    objects = sum(len(seed[r]) for r in LISTED)
    print(
        f"{'read' if args.seed else 'generated'} {len(seed['customers'])} customers, "
        f"{len(seed['invoices'])} invoices, "
        f"{objects} objects listed in all, in {time.perf_counter() - began:.0f} s",
        flush=True,
    )
    runs = []
    setup = False
    for latency in args.latency_ms:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        sandbox = start_sandbox(seed_file, port, latency)
        try:
            bare = json.loads(
                subprocess.run(
                    [sys.executable, "-m", "bench.sync", "--bare-read", base]
                    + (["--typed"] if args.typed else []),
                    capture_output=True,
                    text=True,
                    check=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            typed = bare.get("typed")
            bare = bare["raw"]
            assert bare["objects"] == objects, bare
            print(f"latency {latency:g} ms: bare SDK read {bare['seconds']:.1f} s", flush=True)
            os.environ["KPI_STRIPE_API_BASE"] = base
            if not setup:
                setup_django()
                setup = True
            if runs:
                runs[-1]["full"]["worker"].stop()
            full = full_sync(tmp, objects)
        finally:
            sandbox.terminate()
            sandbox.wait()
        runs.append({"latency": latency, "port": port, "bare": bare, "typed": typed, "full": full})
    last = runs[-1]
    fresh = freshness(
        seed,
        last["port"],
        args.events,
        last["full"]["company"],
        last["full"]["worker"],
        last["latency"],
    )
    latencies = sorted(fresh)
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)] if latencies else float("nan")
    rows = [("objects listed", f"{objects}", "")]
    for run in runs:
        at = f"{run['latency']:g} ms"
        bare_rate = run["bare"]["objects"] / run["bare"]["seconds"]
        sync_rate = objects / run["full"]["seconds"]
        rows += [
            (f"{at}: bare SDK read, objects/s", f"{bare_rate:,.0f}", "baseline"),
            *(
                [
                    (
                        f"{at}:  (typed SDK, objects/s)",
                        f"{objects / run['typed']['seconds']:,.0f}",
                        "",
                    )
                ]
                if run["typed"]
                else []
            ),
            (f"{at}: full sync, objects/s", f"{sync_rate:,.0f}", ""),
            (f"{at}: full sync / bare read", f"{sync_rate / bare_rate:.2f}", ">= 0.70"),
            (f"{at}: full sync, s", f"{run['full']['seconds']:.1f}", ""),
            (f"{at}: peak worker memory, MB", f"{run['full']['memory_mb']:.0f}", "< 500"),
        ]
    rows += [
        ("webhook -> MRR served, p50 s", f"{statistics.median(latencies):.2f}", ""),
        ("webhook -> MRR served, p95 s", f"{p95:.2f}", "< 10"),
    ]
    print(f"\nStripe sync: {len(seed['customers'])} customers, {len(seed['invoices'])} invoices")
    print(f"| {'measure':<36} | {'value':>12} | {'target':<10} |")
    print(f"|{'-' * 38}|{'-' * 14}|{'-' * 12}|")
    for name, value, target in rows:
        print(f"| {name:<36} | {value:>12} | {target:<10} |")


def full_sync(tmp: Path, objects: int) -> dict:
    from django.db import connection

    from kpiplatform.celery import app
    from kpiplatform.connectors import sync
    from kpiplatform.connectors.models import Connection, SyncRun
    from kpiplatform.testing.kpis import configure_company
    from kpiplatform.testing.processes import start_celery_worker

    company = bench_company()
    queue = f"syncbench-{os.getpid()}"
    app.conf.task_default_queue = queue
    connection.set_schema_to_public()
    worker = start_celery_worker(
        queue, tmp / "worker.log", env={"LOG_LEVEL": "WARNING", "CELERY_TASK_DEFAULT_QUEUE": queue}
    )
    time.sleep(3)  # the worker connects to the broker
    with company.activate():
        configure_company(reporting_currency="USD", time_zone="UTC")
        conn = Connection(connector="stripe", name="Stripe", schedule_minutes=0)
        conn.set_secrets({"api_key": KEY, "webhook_secret": WEBHOOK_SECRET})
        conn.save()
        run, _joined = sync.start(conn)
        while True:
            run.refresh_from_db()
            if run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED):
                break
            if not worker.alive():
                raise SystemExit(f"the worker died:\n{worker.log()}")
            time.sleep(0.5)
    if run.status != SyncRun.Status.SUCCEEDED:
        raise SystemExit(f"the sync failed: {run.error}")
    seconds = (run.ended_at - run.started_at).total_seconds()
    print(f"full sync: {seconds:.1f} s, {run.pages} pages", flush=True)
    return {
        "seconds": seconds,
        "memory_mb": peak_memory_mb(worker.pid),
        "company": company,
        "worker": worker,
        "connection_id": conn.pk,
    }


def freshness(
    seed: dict, port: int, events: int, company, worker, latency_ms: float
) -> list[float]:
    import stripe
    from django.test import Client
    from kpiplatform_stripe.sandbox import Sandbox

    from kpiplatform.connectors import webhooks
    from kpiplatform.connectors.models import Connection
    from kpiplatform.kpis.models import PendingChange

    latencies: list[float] = []
    sandbox = Sandbox(copy.deepcopy(seed), keys=(KEY,), port=port, latency_ms=latency_ms).start()
    try:
        with company.activate():
            path = webhooks.path_of(webhooks.endpoint_for(Connection.objects.get()))
            deadline = time.monotonic() + 600
            while PendingChange.objects.exists() and time.monotonic() < deadline:
                time.sleep(0.5)  # the recomputes of the backfill
        admin = company.client("admin")
        hook = Client(HTTP_HOST=company.host)
        month = dt.datetime.now(dt.UTC).date().replace(day=1).isoformat()

        def mrr() -> str:
            answer = admin.get(f"/api/v1/kpis/mrr/series/?grain=month&start={month}")
            return json.dumps(answer.json())

        subs = [
            s
            for s in sandbox.store.listing("subscriptions")
            if s["status"] == "active"
            and not s["discounts"]
            and not s["cancel_at_period_end"]
            and s["items"]["data"][0]["price"]["id"] == "price_pro_monthly_usd"
        ][:events]
        for sub in subs:
            before = mrr()
            began = time.perf_counter()
            sandbox.apply_coupon(sub["id"], "FOREVER10")
            body = json.dumps(sandbox.latest_event())
            signature = stripe.WebhookSignature.generate_signature_header(body, WEBHOOK_SECRET)
            answer = hook.post(
                path, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
            )
            assert answer.status_code == 200, answer.content
            while mrr() == before:
                if time.perf_counter() - began > 60:
                    raise SystemExit(f"no MRR change within 60 s:\n{worker.log()[-3000:]}")
                time.sleep(0.05)
            latencies.append(time.perf_counter() - began)
    finally:
        sandbox.stop()
        worker.stop()
    return latencies


if __name__ == "__main__":
    main()
