"""Web benchmark: the demo company's dashboard, a KPI page and the summary API against a
bare Django view, served by the same gunicorn in the same run.

Run ``python -m bench.web`` (``--seconds N`` per measurement, ``--users 1,20``). It works on
the benchmark database (bench/database.py), creates the demo company there when missing,
collects the static files, and starts gunicorn with ``docker/gunicorn.conf.py`` (2 workers,
``DEBUG=0``, the access log off) on a free loopback port, with the Redis cache docker/ uses
(``KPI_BENCH_CACHE_URL``, by default ``redis://127.0.0.1:6379/13``; the in-process memory
cache when no Redis answers, said in the table's header). The bare view answers "ok" through
the same middleware (tenant routing, sessions, authentication), so the ratios show what each
page costs on top of the request itself. Each user is a thread with its own keep-alive
connection and the session of the demo's viewer, sending requests back to back.

Printed: p50/p95/p99 latency and requests per second of each page at each concurrency, and
the ratios to the bare view; then the page weight the chart library adds (gzipped bytes).
Targets: dashboard p95 < 150 ms at 20 users and >= 0.3x the bare view's requests per second.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from bench.database import setup_django

ROOT = Path(__file__).resolve().parents[1]
PAGES = {
    "bare view": "/bench/bare/",
    "dashboard": "/",
    "KPI page (mrr)": "/kpis/mrr/",
    "summary API": "/api/v1/kpis/summary/",
}
WORKERS = 2
REQUEST_TIMEOUT_S = 120  # a worker's first request loads the plugins: slow on a busy machine


def warm_up(port: int, headers: dict) -> None:
    """Every page answered 200 by every worker before anything is timed (each connection of
    a sync worker is answered by whichever worker accepts it: a few of each)."""
    for path in PAGES.values():
        for _ in range(3 * WORKERS):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
            status, _ = get(conn, path, headers)
            conn.close()
            if status != 200:
                raise SystemExit(f"{path} answered {status} while warming up")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def demo_session() -> tuple[str, str]:
    """The demo company's host and a session cookie of its viewer."""
    from django.core.management import call_command
    from django.test import Client
    from django_tenants.utils import schema_context

    from kpiplatform.accounts.models import Role, User
    from kpiplatform.hosts import host_for
    from kpiplatform.tenants.models import Company
    from kpiplatform.web.demo import DEMO_SLUG, ensure_demo_company

    ensure_demo_company()
    company = Company.objects.get(slug=DEMO_SLUG)
    # A demo made by an earlier run may predate the latest migrations.
    call_command("migrate_schemas", schema_name=company.schema_name, interactive=False, verbosity=0)
    with schema_context(company.schema_name):
        client = Client()
        client.force_login(User.objects.filter(role=Role.VIEWER).first())
        session = client.cookies["sessionid"].value
    return host_for(DEMO_SLUG), session


# The keys of the benchmark's server, also set in this process before Django starts: the
# session this process makes for the viewer is signed with the key the server checks.
BENCH_KEYS = {
    "SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
    "KPI_SECRET_KEYS": "YmVuY2gtb25seS1mZXJuZXQta2V5LWJlbmNoLTAwMDA=",
}


def bench_cache_url() -> str:
    """docker/'s cache, Redis, when one answers; else the in-process memory cache."""
    url = os.environ.get("KPI_BENCH_CACHE_URL", "redis://127.0.0.1:6379/13")
    address = urllib.parse.urlsplit(url)
    try:
        socket.create_connection((address.hostname, address.port or 6379), timeout=1).close()
    except OSError:
        return "locmemcache://"
    return url


def server_environment(static_root: str, cache_url: str) -> dict:
    env = dict(os.environ)
    env.update(
        BENCH_KEYS,
        CACHE_URL=cache_url,
        DJANGO_SETTINGS_MODULE="bench.web_settings",
        DEBUG="0",
        EMAIL_URL="consolemail://",
        KPI_ALLOW_CONSOLE_EMAIL="1",
        SECURE_SSL_REDIRECT="0",
        STATIC_ROOT=static_root,
        LOG_LEVEL="WARNING",
    )
    return env


def start_gunicorn(port: int, env: dict) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(ROOT / "docker" / "gunicorn.conf.py"),
        "--workers",
        str(WORKERS),
        "--bind",
        f"127.0.0.1:{port}",
        "--access-logfile",
        "/dev/null",
        "bench.web_wsgi:application",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit("gunicorn stopped during start-up") from None
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not start within 60 s")


def get(conn: http.client.HTTPConnection, path: str, headers: dict) -> tuple[int, bytes]:
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def measure(port: int, path: str, headers: dict, users: int, seconds: float) -> dict:
    """``users`` threads sending requests back to back for ``seconds``; every answer must be
    a 200."""
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    start_line = threading.Barrier(users + 1)
    stop_at = [0.0]

    def user() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
        own: list[float] = []
        try:
            start_line.wait()
            while time.perf_counter() < stop_at[0]:
                began = time.perf_counter()
                status, _ = get(conn, path, headers)
                own.append(time.perf_counter() - began)
                if status != 200:
                    failures.append(status)
        except Exception as exc:  # reported below, after the other users finish
            failures.append(repr(exc))
            start_line.abort()
        finally:
            conn.close()
        with lock:
            latencies.extend(own)

    threads = [threading.Thread(target=user) for _ in range(users)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + 1e9
    start_line.wait(timeout=REQUEST_TIMEOUT_S)
    began = time.perf_counter()
    stop_at[0] = began + seconds
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise SystemExit(f"{path}: {len(failures)} answers were not 200 (e.g. {failures[0]})")
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "p50": quantiles[49] * 1000,
        "p95": quantiles[94] * 1000,
        "p99": quantiles[98] * 1000,
        "rps": len(latencies) / elapsed,
        "requests": len(latencies),
    }


def page_weight(port: int, headers: dict, static_root: str) -> list[tuple[str, int, int]]:
    """Bytes (raw and gzipped) of the dashboard's HTML and of each script it loads."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    _, html = get(conn, "/", headers)
    conn.close()
    rows = [("dashboard HTML", len(html), len(gzip.compress(html, 6)))]
    for name in ("js_lib_vega_embed/vega-embed-full.js", "django_htmx/htmx-2.min.js"):
        data = (Path(static_root) / name).read_bytes()
        rows.append((name, len(data), len(gzip.compress(data, 6))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--users", default="1,20")
    args = parser.parse_args()
    cache_url = bench_cache_url()
    os.environ.update(BENCH_KEYS, CACHE_URL=cache_url)
    setup_django()
    host, session = demo_session()
    headers = {"Host": host, "Cookie": f"sessionid={session}"}
    with tempfile.TemporaryDirectory() as static_root:
        env = server_environment(static_root, cache_url)
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        port = free_port()
        server = start_gunicorn(port, env)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))  # still stop gunicorn
        try:
            warm_up(port, headers)
            results = {}
            for users in [int(n) for n in args.users.split(",")]:
                for name, path in PAGES.items():
                    results[(name, users)] = measure(port, path, headers, users, args.seconds)
            weights = page_weight(port, headers, static_root)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print_table(results, args, cache_url)
    print()
    print(f"{'page weight':<40} {'bytes':>10} {'gzipped':>10}")
    for name, raw, zipped in weights:
        print(f"{name:<40} {raw:>10,} {zipped:>10,}")


def print_table(results: dict, args, cache_url: str) -> None:
    cache = "in-process memory" if cache_url.startswith("locmem") else cache_url
    print(
        f"gunicorn {WORKERS} workers, DEBUG=0, loopback, cache {cache}; {args.seconds:g} s per "
        "row; ratios against the bare view at the same concurrency"
    )
    header = (
        f"{'page':<16} {'users':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8} "
        f"{'x bare req/s':>12} {'x bare p95':>10}"
    )
    print(header)
    print("-" * len(header))
    for (name, users), row in results.items():
        bare = results[("bare view", users)]
        print(
            f"{name:<16} {users:>5} {row['p50']:>8.1f} {row['p95']:>8.1f} {row['p99']:>8.1f} "
            f"{row['rps']:>8.1f} {row['rps'] / bare['rps']:>12.2f} "
            f"{row['p95'] / bare['p95']:>10.2f}"
        )
    dashboard = results.get(("dashboard", 20))
    if dashboard:
        ratio = dashboard["rps"] / results[("bare view", 20)]["rps"]
        verdict = "met" if dashboard["p95"] < 150 and ratio >= 0.3 else "NOT met"
        print(
            f"target (dashboard at 20 users: p95 < 150 ms, >= 0.3x bare req/s): {verdict} "
            f"(p95 {dashboard['p95']:.1f} ms, {ratio:.2f}x)"
        )


if __name__ == "__main__":
    main()
