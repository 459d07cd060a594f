"""``python -m kpiplatform_stripe.sandbox --port N --seed FILE [--key KEY] [--latency-ms MS]``:
serve until killed; prints ``listening on http://127.0.0.1:N`` once ready."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from kpiplatform_stripe.sandbox import DEFAULT_KEY, Sandbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kpiplatform_stripe.sandbox")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--seed", required=True, help="JSON file of Stripe list resources")
    parser.add_argument(
        "--key", action="append", help=f"accepted API key (repeatable; default {DEFAULT_KEY})"
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0,
        help="added to every answer, as the network and Stripe's own time would (default 0)",
    )
    args = parser.parse_args(argv)
    sandbox = Sandbox.from_file(
        args.seed,
        keys=tuple(args.key or [DEFAULT_KEY]),
        port=args.port,
        latency_ms=args.latency_ms,
    )
    sandbox.start()
    print(f"listening on {sandbox.url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
