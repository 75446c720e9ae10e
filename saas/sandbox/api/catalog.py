"""/v1/products, /v1/prices, /v1/coupons, /v1/promotion_codes."""
from __future__ import annotations

from ..errors import StripeError, invalid
from ..params import BOOL, INT, META, NUM, STR, merge_metadata
from ..shapes import catalog
from ..store import diff
from ..util import clone
from .base import endpoint, paginate

PRODUCT = {"name": STR, "description": STR, "metadata": META, "active": BOOL, "url": STR,
           "images": [STR], "unit_label": STR, "statement_descriptor": STR, "tax_code": STR}
RECURRING = {"!interval": ("day", "week", "month", "year"), "interval_count": INT,
             "usage_type": ("licensed", "metered"), "trial_period_days": INT}


def routes(bp):
    @endpoint(bp, "/products", "POST", {**PRODUCT, "!name": STR, "id": STR, "shippable": BOOL,
                                         "default_price_data": "any", "type": STR})
    def create_product(sb, p):
        st = sb.store
        if p.get("id") and st.find(p["id"]):
            raise StripeError(f"Product already exists.", code="resource_already_exists", param="id")
        prod = st.add(catalog.product(created=st.now(), name=p["name"], description=p.get("description"),
                                      metadata=merge_metadata({}, p.get("metadata")), obj_id=p.get("id"),
                                      active=p.get("active", True) is not False, url=p.get("url"),
                                      images=p.get("images"), unit_label=p.get("unit_label"),
                                      statement_descriptor=p.get("statement_descriptor"),
                                      tax_code=p.get("tax_code")))
        st.emit("product.created", prod)
        return prod

    @endpoint(bp, "/products/<pid>")
    def retrieve_product(sb, p, pid):
        return sb.store.get(pid, "product")

    @endpoint(bp, "/products/<pid>", "POST", {**PRODUCT, "default_price": STR})
    def update_product(sb, p, pid):
        st = sb.store
        prod = st.get(pid, "product")
        before = clone(prod)
        for k in ("name", "description", "active", "url", "images", "unit_label", "default_price"):
            if k in p and p[k] is not None:
                prod[k] = p[k]
        prod["metadata"] = merge_metadata(prod["metadata"], p.get("metadata"))
        prod["updated"] = st.now()
        st.emit("product.updated", prod, diff(before, prod))
        return prod

    @endpoint(bp, "/products", spec={"active": BOOL, "ids": [STR], "created": "any", "url": STR}, listing=True)
    def list_products(sb, p):
        items = sb.store.all("product")
        if p.get("active") is not None:
            items = [i for i in items if i["active"] == p["active"]]
        if p.get("ids"):
            items = [i for i in items if i["id"] in p["ids"]]
        return paginate(items, p, "/v1/products")

    @endpoint(bp, "/prices", "POST", {
        "!currency": STR, "unit_amount": INT, "unit_amount_decimal": STR, "product": STR,
        "product_data": {"!name": STR, "metadata": META, "active": BOOL, "statement_descriptor": STR,
                         "unit_label": STR, "tax_code": STR},
        "recurring": RECURRING, "lookup_key": STR, "transfer_lookup_key": BOOL, "nickname": STR,
        "metadata": META, "active": BOOL, "tax_behavior": ("exclusive", "inclusive", "unspecified"),
        "billing_scheme": ("per_unit",)})
    def create_price(sb, p):
        st = sb.store
        ev = st.batch()
        if p.get("product"):
            prod = st.get(p["product"], "product", "product")
        elif p.get("product_data"):
            d = p["product_data"]
            prod = st.add(catalog.product(created=st.now(), name=d["name"], metadata=merge_metadata({}, d.get("metadata")),
                                          active=d.get("active", True) is not False, unit_label=d.get("unit_label")))
            ev.add("product.created", prod)
        else:
            raise StripeError("You must specify either `product` or `product_data` when creating a price.",
                              code="parameter_missing", param="product")
        amount = p.get("unit_amount")
        if amount is None and p.get("unit_amount_decimal"):
            amount = int(float(p["unit_amount_decimal"]))
        if amount is None:
            raise StripeError("Missing required param: unit_amount.", code="parameter_missing", param="unit_amount")
        if amount < 0:
            raise invalid("unit_amount", "This value must be greater than or equal to 0.", "parameter_invalid_integer")
        key = p.get("lookup_key")
        if key:
            holder = next((x for x in st.all("price") if x["lookup_key"] == key), None)
            if holder and not p.get("transfer_lookup_key"):
                raise StripeError(f"A price (`{holder['id']}`) already uses that lookup key.",
                                  code="lookup_key_already_exists", param="lookup_key")
            if holder:
                before = clone(holder)
                holder["lookup_key"] = None
                ev.add("price.updated", holder, diff(before, holder))
        price = st.add(catalog.price(created=st.now(), product_id=prod["id"], currency=p["currency"].lower(),
                                     unit_amount=amount, recurring=p.get("recurring"), lookup_key=key,
                                     nickname=p.get("nickname"), metadata=merge_metadata({}, p.get("metadata")),
                                     active=p.get("active", True) is not False,
                                     tax_behavior=p.get("tax_behavior") or "unspecified"))
        if not prod["default_price"]:
            prod["default_price"] = price["id"]
        ev.add("price.created", price)
        ev.flush()
        return price

    @endpoint(bp, "/prices/<pid>")
    def retrieve_price(sb, p, pid):
        return sb.store.get(pid, "price")

    @endpoint(bp, "/prices/<pid>", "POST", {"active": BOOL, "metadata": META, "nickname": STR,
                                             "lookup_key": STR, "transfer_lookup_key": BOOL,
                                             "tax_behavior": STR})
    def update_price(sb, p, pid):
        st = sb.store
        price = st.get(pid, "price")
        before = clone(price)
        if p.get("active") is not None:
            price["active"] = p["active"]
        if "nickname" in p:
            price["nickname"] = p["nickname"]
        if "lookup_key" in p:
            holder = next((x for x in st.all("price") if x["lookup_key"] == p["lookup_key"] and x is not price), None)
            if holder and p["lookup_key"]:
                if not p.get("transfer_lookup_key"):
                    raise StripeError(f"A price (`{holder['id']}`) already uses that lookup key.",
                                      code="lookup_key_already_exists", param="lookup_key")
                holder["lookup_key"] = None
            price["lookup_key"] = p["lookup_key"] or None
        price["metadata"] = merge_metadata(price["metadata"], p.get("metadata"))
        st.emit("price.updated", price, diff(before, price))
        return price

    @endpoint(bp, "/prices", spec={"active": BOOL, "product": STR, "lookup_keys": [STR], "currency": STR,
                                   "type": ("one_time", "recurring"), "created": "any",
                                   "recurring": {"interval": STR, "usage_type": STR}}, listing=True)
    def list_prices(sb, p):
        items = sb.store.all("price")
        if p.get("active") is not None:
            items = [i for i in items if i["active"] == p["active"]]
        for key in ("product", "currency", "type"):
            if p.get(key):
                items = [i for i in items if i[key] == p[key]]
        if p.get("lookup_keys"):
            items = [i for i in items if i["lookup_key"] in p["lookup_keys"]]
        if (p.get("recurring") or {}).get("interval"):
            items = [i for i in items if (i["recurring"] or {}).get("interval") == p["recurring"]["interval"]]
        return paginate(items, p, "/v1/prices")

    @endpoint(bp, "/coupons", "POST", {"id": STR, "name": STR, "percent_off": NUM, "amount_off": INT,
                                        "currency": STR, "duration": ("forever", "once", "repeating"),
                                        "duration_in_months": INT, "metadata": META})
    def create_coupon(sb, p):
        st = sb.store
        if not p.get("percent_off") and not p.get("amount_off"):
            raise StripeError("Must provide either percent_off or amount_off.", code="parameter_missing",
                              param="percent_off")
        from ..util import new_id
        c = st.add(catalog.coupon(created=st.now(), obj_id=p.get("id") or new_id("", 8), name=p.get("name"),
                                  percent_off=p.get("percent_off"), amount_off=p.get("amount_off"),
                                  currency=p.get("currency"), duration=p.get("duration") or "once",
                                  duration_in_months=p.get("duration_in_months")))
        st.emit("coupon.created", c)
        return c

    @endpoint(bp, "/coupons/<cid>")
    def retrieve_coupon(sb, p, cid):
        return sb.store.get(cid, "coupon")

    @endpoint(bp, "/promotion_codes", "POST", {"!promotion": {"!coupon": STR, "type": ("coupon",)},
                                                "code": STR, "metadata": META, "active": BOOL})
    def create_promotion_code(sb, p):
        st = sb.store
        coupon = st.get(p["promotion"]["coupon"], "coupon", "promotion[coupon]")
        from ..util import rand_str
        promo = st.add(catalog.promotion_code(created=st.now(), code=p.get("code") or rand_str(8).upper(),
                                              coupon_obj=coupon))
        st.emit("promotion_code.created", promo)
        return promo

    @endpoint(bp, "/promotion_codes/<pid>")
    def retrieve_promotion_code(sb, p, pid):
        return sb.store.get(pid, "promotion_code")

    @endpoint(bp, "/promotion_codes", spec={"code": STR, "active": BOOL, "coupon": STR, "customer": STR},
              listing=True)
    def list_promotion_codes(sb, p):
        items = sb.store.all("promotion_code")
        if p.get("code"):
            items = [i for i in items if i["code"].lower() == p["code"].lower()]
        if p.get("active") is not None:
            items = [i for i in items if i["active"] == p["active"]]
        if p.get("coupon"):
            items = [i for i in items if i["promotion"]["coupon"]["id"] == p["coupon"]]
        return paginate(items, p, "/v1/promotion_codes")
