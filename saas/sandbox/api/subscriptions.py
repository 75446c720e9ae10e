"""/v1/subscriptions (retrieve, list, update, cancel) and /v1/subscription_items."""
from __future__ import annotations

from ..errors import StripeError, invalid
from ..params import BOOL, INT, META, STR, TS_OR_NOW, merge_metadata
from ..shapes.billing import plan_from_price
from ..store import diff
from ..util import clone
from ..engine import billing, payments
from .base import created_filter, endpoint, paginate

STATUSES = ("active", "past_due", "unpaid", "canceled", "incomplete", "incomplete_expired", "trialing",
            "paused", "all", "ended")
UPDATE = {
    "cancel_at_period_end": BOOL, "cancel_at": INT, "pause_collection": {
        "!behavior": ("keep_as_draft", "mark_uncollectible", "void"), "resumes_at": INT},
    "metadata": META, "items": [{"id": STR, "price": STR, "quantity": INT, "deleted": BOOL, "metadata": META}],
    "trial_end": TS_OR_NOW, "proration_behavior": ("create_prorations", "none", "always_invoice"),
    "default_payment_method": STR, "description": STR, "payment_behavior": STR,
    "cancellation_details": {"comment": STR, "feedback": STR}, "off_session": BOOL,
    "billing_cycle_anchor": STR, "proration_date": INT,
}


def _sub(store, sub_id):
    return store.get(sub_id, "subscription")


def routes(bp):
    @endpoint(bp, "/subscriptions/<sub_id>")
    def retrieve_subscription(sb, p, sub_id):
        return _sub(sb.store, sub_id)

    @endpoint(bp, "/subscriptions", spec={"customer": STR, "status": STATUSES, "price": STR, "created": "any",
                                          "test_clock": STR, "collection_method": STR}, listing=True)
    def list_subscriptions(sb, p):
        items = sb.store.all("subscription")
        status = p.get("status")
        if status == "ended":
            items = [s for s in items if s["status"] in ("canceled", "incomplete_expired")]
        elif status and status != "all":
            items = [s for s in items if s["status"] == status]
        elif not status:
            # Stripe's default list hides canceled subscriptions.
            items = [s for s in items if s["status"] != "canceled"]
        if p.get("customer"):
            items = [s for s in items if s["customer"] == p["customer"]]
        if p.get("price"):
            items = [s for s in items if any(i["price"]["id"] == p["price"] for i in s["items"]["data"])]
        items = created_filter(items, p.get("created"))
        return paginate(items, p, "/v1/subscriptions")

    @endpoint(bp, "/subscriptions/<sub_id>", "POST", UPDATE)
    def update_subscription(sb, p, sub_id):
        st = sb.store
        sub = _sub(st, sub_id)
        if sub["status"] in ("canceled", "incomplete_expired"):
            raise StripeError("A canceled subscription can only update its cancellation_details and metadata.",
                              param=None)
        before = clone(sub)
        ev = st.batch()
        now = st.now(sub["customer"])
        _, period_end = billing.period(sub)
        if p.get("cancel_at_period_end") is not None:
            # Current API: cancel_at_period_end and cancel_at move together.
            sub["cancel_at_period_end"] = p["cancel_at_period_end"]
            sub["cancel_at"] = period_end if p["cancel_at_period_end"] else None
            sub["canceled_at"] = now if p["cancel_at_period_end"] else None
        if "cancel_at" in p:
            if p["cancel_at"] is not None and p["cancel_at"] <= now:
                raise invalid("cancel_at", "cancel_at must be in the future.", "parameter_invalid_integer")
            sub["cancel_at"] = p["cancel_at"]
            sub["cancel_at_period_end"] = p["cancel_at"] == period_end
            sub["canceled_at"] = now if p["cancel_at"] else None
        if "pause_collection" in p:
            pc = p["pause_collection"]
            sub["pause_collection"] = {"behavior": pc["behavior"], "resumes_at": pc.get("resumes_at")} if pc else None
        if p.get("cancellation_details"):
            sub["cancellation_details"].update(p["cancellation_details"])
        for key in ("description",):
            if key in p:
                sub[key] = p[key]
        if p.get("default_payment_method"):
            pm = payments.resolve_pm(st, p["default_payment_method"], "default_payment_method")
            payments.attach(st, pm, sub["customer"], ev)
            sub["default_payment_method"] = pm["id"]
        sub["metadata"] = merge_metadata(sub["metadata"], p.get("metadata"))
        for i, change in enumerate(p.get("items") or []):
            _change_item(st, sub, i, change)
        changes = diff(before, sub)
        if changes:
            ev.add("customer.subscription.updated", sub, changes)
        if p.get("trial_end") == "now" and sub["status"] == "trialing":
            ev.flush()
            billing.renew(st, sub, now, ev, end_trial=True)
        elif isinstance(p.get("trial_end"), int) and sub["status"] == "trialing":
            before = clone(sub)
            sub["trial_end"] = p["trial_end"]
            billing._set_period(sub, billing.period(sub)[0], p["trial_end"])
            st.private[sub["id"]].update(anchor=p["trial_end"], cycles=0)
            ev.add("customer.subscription.updated", sub, diff(before, sub))
        ev.flush()
        return sub

    @endpoint(bp, "/subscriptions/<sub_id>", "DELETE", {"invoice_now": BOOL, "prorate": BOOL,
                                                         "cancellation_details": {"comment": STR, "feedback": STR}})
    def cancel_subscription(sb, p, sub_id):
        st = sb.store
        sub = _sub(st, sub_id)
        if sub["status"] == "canceled":
            raise StripeError(f"No such subscription: '{sub_id}'", status=404, code="resource_missing", param="id")
        ev = st.batch()
        details = p.get("cancellation_details") or {}
        billing.cancel_now(st, sub, ev, comment=details.get("comment"), feedback=details.get("feedback"))
        ev.flush()
        return sub

    @endpoint(bp, "/subscriptions/<sub_id>/resume", "POST", {"billing_cycle_anchor": STR,
                                                              "proration_behavior": STR})
    def resume_subscription(sb, p, sub_id):
        st = sb.store
        sub = _sub(st, sub_id)
        before = clone(sub)
        sub["pause_collection"] = None
        st.emit("customer.subscription.updated", sub, diff(before, sub))
        return sub

    @endpoint(bp, "/subscription_items", spec={"!subscription": STR}, listing=True)
    def list_subscription_items(sb, p):
        sub = sb.store.get(p["subscription"], "subscription", "subscription")
        return paginate(list(sub["items"]["data"]), p, f"/v1/subscription_items?subscription={sub['id']}")


def _change_item(store, sub, i, change):
    """Swap an item's price/quantity (no proration invoice: the next renewal bills the new price)."""
    item = None
    if change.get("id"):
        item = next((x for x in sub["items"]["data"] if x["id"] == change["id"]), None)
        if item is None:
            raise StripeError(f"No such subscription item: '{change['id']}'", status=404,
                              code="resource_missing", param=f"items[{i}][id]")
    elif len(sub["items"]["data"]) == 1:
        item = sub["items"]["data"][0]
    if item is None:
        raise StripeError("Adding items is not supported by the sandbox.", param=f"items[{i}]")
    if change.get("price"):
        price = store.get(change["price"], "price", f"items[{i}][price]")
        if not price["recurring"]:
            raise invalid(f"items[{i}][price]", "The price specified is not recurring.")
        if price["currency"] != sub["currency"]:
            raise invalid(f"items[{i}][price]", "The price's currency must match the subscription's.")
        item["price"] = clone(price)
        item["plan"] = plan_from_price(price)
    if change.get("quantity"):
        item["quantity"] = change["quantity"]
    if change.get("metadata") is not None:
        item["metadata"] = merge_metadata(item["metadata"], change["metadata"])
