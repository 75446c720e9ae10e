"""/v1/invoices (retrieve, list, lines, pay, void)."""
from __future__ import annotations

from ..errors import StripeError
from ..params import BOOL, STR
from ..engine import billing, payments
from .base import created_filter, endpoint, paginate


def routes(bp):
    @endpoint(bp, "/invoices/<inv_id>")
    def retrieve_invoice(sb, p, inv_id):
        return sb.store.get(inv_id, "invoice")

    @endpoint(bp, "/invoices", spec={"customer": STR, "subscription": STR, "created": "any",
                                     "status": ("draft", "open", "paid", "void", "uncollectible"),
                                     "collection_method": STR}, listing=True)
    def list_invoices(sb, p):
        items = sb.store.all("invoice")
        if p.get("customer"):
            items = [i for i in items if i["customer"] == p["customer"]]
        if p.get("subscription"):
            items = [i for i in items if ((i["parent"] or {}).get("subscription_details") or {}).get("subscription")
                     == p["subscription"]]
        if p.get("status"):
            items = [i for i in items if i["status"] == p["status"]]
        items = created_filter(items, p.get("created"))
        return paginate(items, p, "/v1/invoices")

    @endpoint(bp, "/invoices/<inv_id>/lines", listing=True)
    def invoice_lines(sb, p, inv_id):
        inv = sb.store.get(inv_id, "invoice")
        return paginate(list(inv["lines"]["data"]), p, f"/v1/invoices/{inv_id}/lines")

    @endpoint(bp, "/invoices/<inv_id>/pay", "POST", {"payment_method": STR, "off_session": BOOL,
                                                      "paid_out_of_band": BOOL})
    def pay_invoice(sb, p, inv_id):
        st = sb.store
        inv = st.get(inv_id, "invoice")
        if inv["status"] != "open":
            raise StripeError("Invoice is already paid." if inv["status"] == "paid" else
                              f"You can only pay an open invoice (this one is {inv['status']}).",
                              code="invoice_not_open" if inv["status"] != "paid" else "invoice_already_paid")
        ev = st.batch()
        sub = st.find(((inv["parent"] or {}).get("subscription_details") or {}).get("subscription"))
        if p.get("paid_out_of_band"):
            billing.mark_paid(st, inv, ev)
            outcome = "paid"
        else:
            pm = payments.resolve_pm(st, p["payment_method"]) if p.get("payment_method") else (
                billing.default_pm(st, sub) if sub else None)
            outcome = billing.collect(st, inv, ev, pm)
        if sub:
            billing.after_collection(st, sub, inv, outcome, ev)
        ev.flush()
        if outcome == "failed":
            pi = st.find(st.private[inv["id"]].get("payment_intent"))
            if pi and pi.get("last_payment_error"):
                raise payments.card_error_for(pi)
        return inv

    @endpoint(bp, "/invoices/<inv_id>/void", "POST", {})
    def void_invoice(sb, p, inv_id):
        st = sb.store
        inv = st.get(inv_id, "invoice")
        if inv["status"] != "open":
            raise StripeError(f"You can only void an open invoice (this one is {inv['status']}).")
        inv["status"] = "void"
        inv["status_transitions"]["voided_at"] = st.now(inv["customer"])
        inv["next_payment_attempt"] = None
        st.emit("invoice.voided", inv, {"status": "open"})
        return inv
