"""``python -m kpiplatform_google_analytics.sandbox --port N --seed FILE``: serve until killed."""

from __future__ import annotations

import argparse

from . import Sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description="A local Google Analytics Data API.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--seed", required=True, help="seed file (see docs/connectors.md)")
    args = parser.parse_args()
    sandbox = Sandbox(args.seed, port=args.port)
    print(f"listening on {sandbox.url}", flush=True)
    try:
        sandbox.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.server.server_close()


if __name__ == "__main__":
    main()
