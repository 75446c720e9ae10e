"""/v1/charges (retrieve, list) and /v1/refunds (create, retrieve, list)."""
from __future__ import annotations

from ..errors import StripeError
from ..params import INT, META, STR, merge_metadata
from ..engine import payments
from .base import created_filter, endpoint, paginate


def routes(bp):
    @endpoint(bp, "/charges/<ch_id>")
    def retrieve_charge(sb, p, ch_id):
        return sb.store.get(ch_id, "charge")

    @endpoint(bp, "/charges", spec={"customer": STR, "payment_intent": STR, "created": "any"}, listing=True)
    def list_charges(sb, p):
        items = sb.store.all("charge")
        for key in ("customer", "payment_intent"):
            if p.get(key):
                items = [i for i in items if i[key] == p[key]]
        return paginate(created_filter(items, p.get("created")), p, "/v1/charges")

    @endpoint(bp, "/refunds", "POST", {"payment_intent": STR, "charge": STR, "amount": INT, "metadata": META,
                                        "reason": ("duplicate", "fraudulent", "requested_by_customer"),
                                        "instructions_email": STR})
    def create_refund(sb, p):
        st = sb.store
        if p.get("charge"):
            ch = st.get(p["charge"], "charge", "charge")
        elif p.get("payment_intent"):
            pi = st.get(p["payment_intent"], "payment_intent", "payment_intent")
            ch = st.find(pi["latest_charge"])
            if pi["status"] != "succeeded" or not ch:
                raise StripeError(f"This PaymentIntent ({pi['id']}) does not have a successful charge to refund.",
                                  code="charge_not_refundable", param="payment_intent")
        else:
            raise StripeError("One of the following params should be provided for this request: payment_intent "
                              "or charge.", code="parameter_missing", param="charge")
        ev = st.batch()
        re = payments.refund(st, ch, ev, amount=p.get("amount"), reason=p.get("reason"),
                             metadata=merge_metadata({}, p.get("metadata")))
        ev.flush()
        return re

    @endpoint(bp, "/refunds/<re_id>")
    def retrieve_refund(sb, p, re_id):
        return sb.store.get(re_id, "refund")

    @endpoint(bp, "/refunds", spec={"charge": STR, "payment_intent": STR, "created": "any"}, listing=True)
    def list_refunds(sb, p):
        items = sb.store.all("refund")
        for key in ("charge", "payment_intent"):
            if p.get(key):
                items = [i for i in items if i[key] == p[key]]
        return paginate(created_filter(items, p.get("created")), p, "/v1/refunds")
