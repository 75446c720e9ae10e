"""Moving a customer's (or a test clock's) time forward and running what falls due.

Due work is processed strictly in time order across all affected subscriptions: each step
sets the customer's clock to the moment it happens, so invoices and periods get the right
timestamps, and its events are emitted before the next step runs.
"""
from __future__ import annotations

from . import billing, checkout_flow


def _timers(store, sub: dict) -> list[tuple[int, int, str]]:
    status = sub["status"]
    if status in ("canceled", "incomplete_expired"):
        return []
    out = []
    settle = store.private[sub["id"]].get("settle")
    if status == "incomplete":
        return [(settle["at"], 0, "settle")] if settle else []
    if sub.get("cancel_at"):
        out.append((sub["cancel_at"], 0, "cancel"))
    if status == "trialing" and sub.get("trial_end"):
        out.append((sub["trial_end"], 1, "trial_end"))
    elif status == "active":
        out.append((billing.period(sub)[1], 1, "renew"))
    elif status == "past_due":
        inv = store.find(sub["latest_invoice"])
        if inv and inv["status"] == "open" and inv.get("next_payment_attempt"):
            out.append((inv["next_payment_attempt"], 2, "retry"))
    return out


def _run(store, sub: dict, action: str, at: int, ev) -> None:
    if action == "cancel":
        billing.cancel_now(store, sub, ev)
    elif action == "trial_end":
        billing.renew(store, sub, at, ev, end_trial=True)
    elif action == "renew":
        billing.renew(store, sub, at, ev)
    elif action == "retry":
        billing.retry(store, sub, ev)
    elif action == "settle":
        settle = store.private[sub["id"]]["settle"]
        checkout_flow.settle(store, store.find(settle["cs"]), settle["outcome"], ev)


def advance(store, customer_ids: list[str], to: int, max_steps: int = 500) -> int:
    """Run everything due up to `to` for these customers; returns the number of steps run."""
    steps = 0
    while steps < max_steps:
        best = None
        for cus_id in customer_ids:
            for sub in billing.subscriptions_of(store, cus_id):
                for at, prio, action in _timers(store, sub):
                    if at <= to and (best is None or (at, prio) < best[:2]):
                        best = (at, prio, action, sub)
        if best is None:
            break
        at, _, action, sub = best
        store.set_time(sub["customer"], max(at, store.now(sub["customer"])))
        ev = store.batch()
        _run(store, sub, action, at, ev)
        ev.flush()
        steps += 1
    for cus_id in customer_ids:
        store.set_time(cus_id, to)
    return steps
