"""/v1/customers and /v1/payment_methods."""
from __future__ import annotations

from ..errors import StripeError
from ..params import META, STR, merge_metadata
from ..shapes import catalog
from ..store import diff
from ..util import clone
from ..engine import payments
from .base import endpoint, paginate

CUSTOMER_FIELDS = {"email": STR, "name": STR, "description": STR, "metadata": META, "phone": STR,
                   "payment_method": STR, "preferred_locales": [STR],
                   "invoice_settings": {"default_payment_method": STR}}


def routes(bp):
    @endpoint(bp, "/customers", "POST", {**CUSTOMER_FIELDS, "test_clock": STR})
    def create_customer(sb, p):
        st = sb.store
        clock = p.get("test_clock")
        if clock:
            st.get(clock, "test_helpers.test_clock", "test_clock")
        cus = st.add(catalog.customer(created=st.now(), email=p.get("email"), name=p.get("name"),
                                      description=p.get("description"), phone=p.get("phone"),
                                      metadata=merge_metadata({}, p.get("metadata")), test_clock=clock))
        if clock:
            cus["created"] = st.now(cus["id"])
        ev = st.batch()
        ev.add("customer.created", cus)
        if p.get("payment_method"):
            payments.attach(st, payments.resolve_pm(st, p["payment_method"]), cus["id"], ev)
        dpm = (p.get("invoice_settings") or {}).get("default_payment_method")
        if dpm:
            cus["invoice_settings"]["default_payment_method"] = dpm
        ev.flush()
        return cus

    @endpoint(bp, "/customers/<cid>")
    def retrieve_customer(sb, p, cid):
        return sb.store.get(cid, "customer")

    @endpoint(bp, "/customers/<cid>", "POST", CUSTOMER_FIELDS)
    def update_customer(sb, p, cid):
        st = sb.store
        cus = st.get(cid, "customer")
        before = clone(cus)
        for key in ("email", "name", "description", "phone", "preferred_locales"):
            if key in p:
                cus[key] = p[key]
        cus["metadata"] = merge_metadata(cus["metadata"], p.get("metadata"))
        dpm = (p.get("invoice_settings") or {}).get("default_payment_method")
        if dpm:
            pm = payments.resolve_pm(st, dpm, "invoice_settings[default_payment_method]")
            if pm.get("customer") != cid:
                raise StripeError(f"The customer does not have a payment method with the ID {dpm}. The payment "
                                  "method must be attached to the customer.", param="invoice_settings[default_payment_method]")
            cus["invoice_settings"]["default_payment_method"] = pm["id"]
        changes = diff(before, cus)
        if changes:
            st.emit("customer.updated", cus, changes)
        return cus

    @endpoint(bp, "/customers/<cid>", "DELETE")
    def delete_customer(sb, p, cid):
        st = sb.store
        cus = st.get(cid, "customer")
        st.objects.pop(cid)
        st.emit("customer.deleted", cus)
        return {"id": cid, "object": "customer", "deleted": True}

    @endpoint(bp, "/customers", spec={"email": STR, "created": "any", "test_clock": STR}, listing=True)
    def list_customers(sb, p):
        items = sb.store.all("customer")
        if p.get("email"):
            items = [c for c in items if (c["email"] or "").lower() == p["email"].lower()]
        if p.get("test_clock"):
            items = [c for c in items if c["test_clock"] == p["test_clock"]]
        return paginate(items, p, "/v1/customers")

    @endpoint(bp, "/customers/search", spec={"!query": STR, "limit": "int", "page": STR})
    def search_customers(sb, p):
        # Supports the common `email:'x@y'` and `metadata['k']:'v'` queries.
        import re
        items = sb.store.all("customer")
        for field, key, value in re.findall(r"(\w+)(?:\['([^']+)'\])?\s*:\s*'([^']*)'", p["query"]):
            if field == "metadata":
                items = [c for c in items if c["metadata"].get(key) == value]
            else:
                items = [c for c in items if str(c.get(field) or "") == value]
        return {"object": "search_result", "data": items[: p.get("limit") or 10], "has_more": False,
                "next_page": None, "url": "/v1/customers/search"}

    @endpoint(bp, "/payment_methods/<pmid>")
    def retrieve_payment_method(sb, p, pmid):
        return payments.resolve_pm(sb.store, pmid, "id")

    @endpoint(bp, "/payment_methods", spec={"customer": STR, "type": STR}, listing=True)
    def list_payment_methods(sb, p):
        items = [m for m in sb.store.all("payment_method")
                 if (not p.get("customer") or m["customer"] == p["customer"])
                 and (not p.get("type") or m["type"] == p["type"])]
        return paginate(items, p, "/v1/payment_methods")

    @endpoint(bp, "/payment_methods/<pmid>/attach", "POST", {"!customer": STR})
    def attach_payment_method(sb, p, pmid):
        st = sb.store
        st.get(p["customer"], "customer", "customer")
        pm = payments.resolve_pm(st, pmid, "id")
        ev = st.batch()
        payments.attach(st, pm, p["customer"], ev)
        ev.flush()
        return pm

    @endpoint(bp, "/payment_methods/<pmid>/detach", "POST", {})
    def detach_payment_method(sb, p, pmid):
        st = sb.store
        pm = payments.resolve_pm(st, pmid, "id")
        if pm["customer"]:
            previous = {"customer": pm["customer"]}
            pm["customer"] = None
            st.emit("payment_method.detached", pm, previous)
        return pm
