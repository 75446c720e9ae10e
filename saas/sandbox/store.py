"""In-memory state of the sandbox: every object, the event log, per-customer clocks.

Everything is mutated under `store.lock` (API views, hosted pages and time travel all take
it), so the sandbox behaves like a single serialised Stripe account. Objects are stored in
their public Stripe shape; sandbox-only data (raw card numbers, line items of a session,
dunning state) lives in `store.private[id]` so it can never leak into an API response.
"""
from __future__ import annotations

import threading
from collections import defaultdict
from typing import Callable

from .errors import no_such
from .util import clone, new_id, real_now

API_VERSION = "2026-10-28.endive"

# id prefix -> Stripe object name, used for lookups, expansion and "No such ..." messages.
PREFIXES = {
    "cus_": "customer", "prod_": "product", "price_": "price", "cs_test_": "checkout.session",
    "sub_": "subscription", "si_": "subscription_item", "in_": "invoice", "pi_": "payment_intent",
    "ch_": "charge", "re_": "refund", "pm_": "payment_method", "evt_": "event",
    "bps_": "billing_portal.session", "clock_": "test_helpers.test_clock", "promo_": "promotion_code",
    "di_": "discount",
}


def kind_of(obj_id: str) -> str | None:
    for prefix, kind in PREFIXES.items():
        if obj_id.startswith(prefix):
            return kind
    return None


def _rebase(value, old: str, new: str):
    if isinstance(value, str):
        return new + value[len(old):] if value.startswith(old) else value
    if isinstance(value, dict):
        out = type(value)() if not hasattr(value, "default_factory") else type(value)(value.default_factory)
        for k, v in value.items():
            out[k] = _rebase(v, old, new)
        return out
    if isinstance(value, list):
        return [_rebase(v, old, new) for v in value]
    if isinstance(value, tuple):
        return tuple(_rebase(v, old, new) for v in value)
    return value


class EventBatch:
    """Events collected during one operation, emitted together once the state is consistent.

    Snapshots are taken when an event is added, so a later mutation of the same object does
    not leak into an earlier event. `flush(order=...)` lets a flow emit in Stripe's order.
    """

    def __init__(self, store: "Store"):
        self.store = store
        self.items: list[tuple[str, dict, dict | None]] = []

    def add(self, type_: str, obj: dict, previous: dict | None = None) -> None:
        self.items.append((type_, clone(obj), clone(previous) if previous is not None else None))

    def extend(self, other: "EventBatch") -> None:
        self.items.extend(other.items)
        other.items = []

    def flush(self, order: list[str] | None = None) -> list[dict]:
        items, self.items = self.items, []
        if order:
            rank = {t: i for i, t in enumerate(order)}
            items = sorted(items, key=lambda it: rank.get(it[0], len(order)))
        return [self.store.record_event(t, o, p) for t, o, p in items]


class Store:
    def __init__(self, *, dunning_days=(3, 5, 7), past_due_final: str = "unpaid",
                 on_event: Callable[[dict], None] | None = None):
        self.lock = threading.RLock()
        self.dunning_days = tuple(dunning_days)
        self.past_due_final = past_due_final
        self.on_event = on_event
        self.public_url = ""
        self.reset()

    # What a saved sandbox keeps between runs (the launcher's state file), so that customers
    # and subscriptions the app's database refers to still exist after a restart.
    STATE_FIELDS = ("objects", "order", "private", "events", "idempotency", "offsets")

    def snapshot(self) -> bytes:
        import pickle

        with self.lock:
            state = {f: getattr(self, f) for f in self.STATE_FIELDS}
            state["public_url"] = self.public_url
            return pickle.dumps(state)

    def restore(self, blob: bytes) -> None:
        import pickle

        state = pickle.loads(blob)  # our own file, written by snapshot()
        old_url, new_url = state.get("public_url") or "", self.public_url
        with self.lock:
            for field in self.STATE_FIELDS:
                if field in state:
                    value = state[field]
                    if old_url and new_url and old_url != new_url:
                        # Hosted page links (invoices, checkout, portal) follow the sandbox to its new port.
                        value = _rebase(value, old_url, new_url)
                    setattr(self, field, value)

    def change_marker(self) -> tuple:
        return (len(self.events), len(self.objects), len(self.idempotency))

    def reset(self) -> None:
        with self.lock:
            self.objects: dict[str, dict] = {}
            self.order: dict[str, list[str]] = defaultdict(list)
            self.private: dict[str, dict] = defaultdict(dict)
            self.events: list[dict] = []
            self.idempotency: dict[tuple, tuple] = {}
            self.offsets: dict[str, int] = {}  # customer id -> seconds travelled (no test clock)
            self.request_ctx = {"id": None, "idempotency_key": None}
            from .engine.seed import seed
            seed(self)

    # -- objects -------------------------------------------------------------
    def add(self, obj: dict) -> dict:
        self.objects[obj["id"]] = obj
        self.order[obj["object"]].append(obj["id"])
        return obj

    def find(self, obj_id) -> dict | None:
        return self.objects.get(obj_id) if isinstance(obj_id, str) else None

    def get(self, obj_id: str, kind: str, param: str = "id") -> dict:
        obj = self.find(obj_id)
        if obj is None or obj.get("object") != kind:
            raise no_such(kind, obj_id, param)
        return obj

    def all(self, kind: str) -> list[dict]:
        """Newest first, as Stripe lists are."""
        return [self.objects[i] for i in reversed(self.order[kind]) if i in self.objects]

    # -- time ----------------------------------------------------------------
    def now(self, customer_id: str | None = None) -> int:
        """The customer's current time: its test clock's frozen time, or wall time + travel."""
        cus = self.find(customer_id)
        if cus and cus.get("test_clock"):
            clock = self.find(cus["test_clock"])
            if clock:
                return clock["frozen_time"]
        return real_now() + self.offsets.get(customer_id or "", 0)

    def set_time(self, customer_id: str, ts: int) -> None:
        cus = self.find(customer_id)
        if cus and cus.get("test_clock") and self.find(cus["test_clock"]):
            self.find(cus["test_clock"])["frozen_time"] = ts
        else:
            self.offsets[customer_id] = ts - real_now()

    # -- events --------------------------------------------------------------
    def batch(self) -> EventBatch:
        return EventBatch(self)

    def emit(self, type_: str, obj: dict, previous: dict | None = None) -> dict:
        return self.record_event(type_, clone(obj), clone(previous) if previous is not None else None)

    def record_event(self, type_: str, snapshot: dict, previous: dict | None) -> dict:
        data = {"object": snapshot}
        if previous is not None:
            data["previous_attributes"] = previous
        event = {
            "id": new_id("evt_"), "object": "event", "api_version": API_VERSION,
            "created": real_now(), "data": data, "livemode": False,
            "pending_webhooks": 0, "request": dict(self.request_ctx), "type": type_,
        }
        self.events.append(event)
        self.add(event)
        if self.on_event:
            self.on_event(event)
        return event


def diff(before: dict, after: dict) -> dict:
    """Top-level `previous_attributes` for an update event."""
    return {k: before.get(k) for k in after if before.get(k) != after.get(k)}
