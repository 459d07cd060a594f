"""``python -m kpiplatform_hubspot.sandbox --port N --seed FILE``: serve until killed."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from pathlib import Path

from kpiplatform_hubspot.sandbox.server import SEARCH_CAP, Sandbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A local fake of the HubSpot CRM v3 API.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--seed", type=Path, help="seed file: CRM objects per object type")
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        help="an accepted private-app token (repeatable; none given: any token is accepted)",
    )
    parser.add_argument("--search-cap", type=int, default=SEARCH_CAP)
    args = parser.parse_args(argv)
    seed = json.loads(args.seed.read_text()) if args.seed else {}
    sandbox = Sandbox(seed, tokens=tuple(args.token), search_cap=args.search_cap)
    url = sandbox.start(args.port)
    print(f"listening on {url}", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
