"""A local Stripe for tests, benches and the demo: serves a seed file of Stripe objects in the
pinned API version's shapes, and lets tests change the company and switch faults on.

    with Sandbox.from_file("seed.json") as sandbox:   # a free port on 127.0.0.1
        client = stripe.StripeClient(sandbox.key, base_addresses={"api": sandbox.url})
        sandbox.rate_limit(times=2, retry_after="1")
        sandbox.add_customer(email="new@example.com", price_id="price_pro_monthly_usd")

Command line: ``python -m kpiplatform_stripe.sandbox --port N --seed FILE [--latency-ms MS]``.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from kpiplatform_stripe.sandbox.billing import Billing
from kpiplatform_stripe.sandbox.server import Fault, Server
from kpiplatform_stripe.sandbox.store import Store

DEFAULT_KEY = "sk_test_sandbox"


class Sandbox:
    def __init__(
        self,
        seed: dict,
        *,
        keys: tuple[str, ...] = (DEFAULT_KEY,),
        port: int = 0,
        latency_ms: float = 0,
    ):
        self.store = Store(seed)
        self.keys = set(keys)
        self.key = keys[0]
        self._port = port
        # Added to every answer: the network and Stripe's own time, which a loopback
        # server otherwise lacks (benches model a real upstream with it).
        self.latency_ms = latency_ms
        self.server: Server | None = None
        self._thread: threading.Thread | None = None
        self.billing = Billing(self.store, tag="live")

    @classmethod
    def from_file(cls, path: str | Path, **options) -> Sandbox:
        return cls(json.loads(Path(path).read_text()), **options)

    # --- running -------------------------------------------------------------------------

    def start(self) -> Sandbox:
        self.server = Server(
            ("127.0.0.1", self._port), self.store, self.keys, latency_s=self.latency_ms / 1000
        )
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self.server is not None, "start the sandbox first"
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[str]:
        """The paths served so far, in order."""
        assert self.server is not None
        with self.server.requests_lock:
            return list(self.server.requests)

    # --- faults --------------------------------------------------------------------------

    def rate_limit(self, times: int = 1, retry_after: str | None = "1", path: str = "/v1/") -> None:
        """The next ``times`` requests under ``path`` get 429 with this Retry-After."""
        self.server.faults.add(Fault(429, path, retry_after, times))

    def server_error(self, times: int = 1, status: int = 500, path: str = "/v1/") -> None:
        self.server.faults.add(Fault(status, path, None, times))

    def malformed_page(self, path: str = "/v1/", times: int = 1) -> None:
        """The next request under ``path`` gets 200 with a truncated JSON body."""
        self.server.faults.add(Fault(200, path, None, times))

    def stall(self, path: str) -> Fault:
        """The next request under ``path`` waits until ``fault.release()`` (``fault.waiting``
        is set once it does): a test kills a worker in the middle of a sync there."""
        fault = Fault(0, path)
        self.server.faults.add(fault)
        return fault

    def revoke(self, key: str | None = None) -> None:
        """The key is revoked: requests with it get 401 from now on."""
        self.server.revoked.add(key or self.key)

    # --- changing the company (objects and events, at the present time) -----------------

    def _sub(self, sub_id: str) -> dict:
        sub = self.store.get("subscriptions", sub_id)
        if sub is None:
            raise KeyError(sub_id)
        return sub

    def add_customer(
        self,
        *,
        email: str,
        price_id: str,
        name: str = "",
        country: str = "US",
        quantity: int = 1,
        trial_days: int = 0,
        coupon_id: str | None = None,
        at: int | None = None,
    ) -> tuple[dict, dict]:
        """A new customer subscribed to a price (paid at once unless on trial)."""
        t = at or int(time.time())
        price = self.store.get("prices", price_id)
        with self.store.lock:
            customer = self.billing.customer(
                t,
                email=email,
                name=name or email.split("@")[0],
                country=country,
                currency=price["currency"],
            )
            coupon = self.store.get("coupons", coupon_id) if coupon_id else None
            sub = self.billing.subscribe(
                t, customer, price, quantity, trial_days=trial_days, coupon=coupon
            )
        return customer, sub

    def upgrade(
        self, sub_id: str, price_id: str, quantity: int | None = None, at: int | None = None
    ):
        """Change the subscription's price (and quantity) now, prorated and invoiced."""
        with self.store.lock:
            return self.billing.change(
                at or int(time.time()),
                self._sub(sub_id),
                self.store.get("prices", price_id),
                quantity,
            )

    def apply_coupon(self, sub_id: str, coupon_id: str, at: int | None = None) -> dict:
        with self.store.lock:
            return self.billing.apply_coupon(
                at or int(time.time()), self._sub(sub_id), self.store.get("coupons", coupon_id)
            )

    def cancel_at_period_end(self, sub_id: str, at: int | None = None) -> None:
        with self.store.lock:
            self.billing.cancel_at_period_end(at or int(time.time()), self._sub(sub_id))

    def cancel_now(self, sub_id: str, at: int | None = None) -> None:
        with self.store.lock:
            self.billing.end(at or int(time.time()), self._sub(sub_id))

    def pause(self, sub_id: str, at: int | None = None) -> None:
        with self.store.lock:
            self.billing.pause(at or int(time.time()), self._sub(sub_id))

    def refund(self, charge_id: str, amount: int | None = None, at: int | None = None) -> dict:
        with self.store.lock:
            return self.billing.refund(
                at or int(time.time()), self.store.get("charges", charge_id), amount
            )

    def delete_customer(self, customer_id: str, at: int | None = None) -> None:
        with self.store.lock:
            obj = self.store.remove("customers", customer_id)
            if obj is not None:
                deleted = {"id": customer_id, "object": "customer", "deleted": True}
                event = self.store.emit("customer.deleted", {**obj, **deleted})
                event["created"] = at or int(time.time())

    def latest_event(self) -> dict | None:
        events = self.store.listing("events")
        return events[0] if events else None
