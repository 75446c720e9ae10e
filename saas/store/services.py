"""Store services: the cart, checkout into an order plus its Payment Intent, applying Stripe's
payment state to orders (from webhooks), and refunds. Services own the transaction.

Locking: an order's row is locked (SELECT ... FOR UPDATE) while Stripe state is applied to it,
so two workers handling events for one order run one after the other; fulfilment is also guarded
by a conditional UPDATE on ``paid_at IS NULL``, so it happens once whatever races. Every cart
edit and checkout locks the cart's row the same way, so two tabs editing one cart take turns.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select, update

from saas import stripe_gateway as gateway
from saas.extensions import db
from saas.store.models import MAX_QUANTITY, Cart, CartItem, Order, OrderLine, Product, StoreRevenueDay
from saas.timefmt import utcnow

log = logging.getLogger(__name__)


class StoreError(Exception):
    """A problem the shopper should be told about in plain words; nothing was changed."""

    def __init__(self, message: str):
        super().__init__(message)
        self.user_message = message


class RefundNotAllowed(StoreError):
    pass


class CartChanged(StoreError):
    """The cart is not the one the checkout form was made from."""


def store_currency() -> str:
    return current_app.config["STORE_CURRENCY"].lower()


def _new_token() -> str:
    return secrets.token_urlsafe(24)


# --- catalog ---------------------------------------------------------------------------------

def catalog() -> list[Product]:
    """Active products priced in the store currency (a product in another currency cannot be
    sold here without a conversion we do not do)."""
    return list(db.session.execute(
        select(Product).where(Product.active.is_(True), Product.currency == store_currency())
        .order_by(Product.name)
    ).scalars())


def product_by_slug(slug: str) -> Product | None:
    product = db.session.execute(select(Product).where(Product.slug == slug)).scalar_one_or_none()
    if product is None or not _sellable(product):
        return None
    return product


def _sellable(product: Product | None) -> bool:
    return product is not None and product.active and product.currency == store_currency()


# --- cart ------------------------------------------------------------------------------------

def parse_quantity(raw) -> int:
    """Whole numbers 1..99 only; anything else raises StoreError with the reason."""
    text = str(raw if raw is not None else "").strip()
    if not text:
        raise StoreError("Enter a quantity.")
    if not (text.isascii() and text.lstrip("-+").isdigit()) or text.startswith("+"):
        raise StoreError("Quantity must be a whole number from 1 to 99.")
    value = int(text)
    if not 1 <= value <= MAX_QUANTITY:
        raise StoreError("Quantity must be a whole number from 1 to 99.")
    return value


def find_cart(*, user_id: int | None, token: str | None) -> Cart | None:
    if user_id is not None:
        return db.session.execute(select(Cart).where(Cart.user_id == user_id)).scalar_one_or_none()
    if token:
        return db.session.execute(select(Cart).where(Cart.token == token, Cart.user_id.is_(None))).scalar_one_or_none()
    return None


def _locked_cart(*, user_id: int | None, token: str | None) -> Cart | None:
    """The owner's cart with its row locked and its items read after the lock was granted.

    Every cart edit takes this lock, so edits of one cart run one after the other and each sees
    what the previous one committed (an item removed meanwhile is simply not there, rather than
    an UPDATE that matches no row). ``populate_existing`` matters: a cart loaded earlier in the
    session would otherwise keep its items as they were before the lock.
    """
    if user_id is not None:
        where = Cart.user_id == user_id
    elif token:
        where = (Cart.token == token) & Cart.user_id.is_(None)
    else:
        return None
    return db.session.execute(
        select(Cart).where(where).with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _get_or_create_cart(*, user_id: int | None, token: str | None) -> Cart:
    """The cart row, locked. Creation races (two tabs) are settled by the unique constraints."""
    from sqlalchemy.dialects.postgresql import insert

    if user_id is None and not token:
        raise ValueError("an anonymous cart needs a token")
    values = {"user_id": user_id, "token": None if user_id is not None else token,
              "checkout_token": _new_token(), "created_at": utcnow(), "updated_at": utcnow()}
    key = "user_id" if user_id is not None else "token"
    db.session.execute(insert(Cart).values(**values).on_conflict_do_nothing(index_elements=[key]))
    column = Cart.user_id if user_id is not None else Cart.token
    return db.session.execute(select(Cart).where(column == values[key]).with_for_update()
                              .execution_options(populate_existing=True)).scalar_one()


def new_cart_token() -> str:
    return _new_token()


def add_to_cart(*, user_id: int | None, token: str | None, product_id: int, quantity: int) -> CartItem:
    """Add ``quantity`` of a product (summing with what is there, capped at 99)."""
    product = db.session.get(Product, product_id)
    if not _sellable(product):
        db.session.rollback()
        raise StoreError("That product is not available.")
    try:
        cart = _get_or_create_cart(user_id=user_id, token=token)
        item = next((i for i in cart.items if i.product_id == product.id), None)
        if item is None:
            item = CartItem(cart=cart, product_id=product.id, product_name=product.name, quantity=quantity)
            db.session.add(item)
        else:
            if item.quantity + quantity > MAX_QUANTITY:
                raise StoreError(f"You can have at most {MAX_QUANTITY} of one product in your cart "
                                 f"(you already have {item.quantity}).")
            item.quantity += quantity
        cart.updated_at = utcnow()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return item


def _owned_item(cart: Cart | None, item_id: int) -> CartItem:
    item = next((i for i in (cart.items if cart else []) if i.id == item_id), None)
    if item is None:
        raise StoreError("That item is no longer in your cart.")
    return item


def set_quantity(*, user_id: int | None, token: str | None, item_id: int, quantity: int) -> None:
    try:
        cart = _locked_cart(user_id=user_id, token=token)
        item = _owned_item(cart, item_id)
        item.quantity = quantity
        cart.updated_at = utcnow()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def remove_item(*, user_id: int | None, token: str | None, item_id: int) -> str:
    try:
        cart = _locked_cart(user_id=user_id, token=token)
        item = _owned_item(cart, item_id)
        name = item.product_name
        cart.items.remove(item)
        cart.updated_at = utcnow()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return name


@dataclass
class CartView:
    cart: Cart | None
    items: list[CartItem]
    total: int
    currency: str
    removed: list[str]

    @property
    def count(self) -> int:
        return sum(i.quantity for i in self.items)

    @property
    def checkout_token(self) -> str:
        """What the checkout form carries: the cart's token plus a fingerprint of the cart as
        this page shows it, so that checkout can refuse a cart that changed after review."""
        if self.cart is None:
            return ""
        return f"{self.cart.checkout_token}.{cart_fingerprint(self.items, self.currency)}"


def cart_fingerprint(items, currency: str) -> str:
    """A digest of what would be bought: products, quantities and current prices. It is not a
    secret (checkout prices the order from our own table whatever the form says); it only has
    to change whenever the cart or a price does."""
    lines = sorted((i.product_id, i.quantity, i.product.unit_amount if i.product else None) for i in items)
    return hashlib.sha256(json.dumps([currency, lines]).encode()).hexdigest()[:32]


def review_cart(*, user_id: int | None, token: str | None) -> CartView:
    """The cart as it can be bought now: items whose product was deleted, deactivated or is
    priced in another currency are dropped (and named in ``removed`` so the page can say so)."""
    cart = find_cart(user_id=user_id, token=token)
    removed: list[str] = []
    if cart is not None:
        stale = [i for i in cart.items if not _sellable(i.product)]
        if stale:
            try:
                for item in stale:
                    removed.append(item.product_name)
                    cart.items.remove(item)
                db.session.commit()
            except Exception:
                db.session.rollback()
                raise
    items = list(cart.items) if cart else []
    total = sum(i.product.unit_amount * i.quantity for i in items)
    return CartView(cart, items, total, store_currency(), removed)


def merge_anonymous_cart(user_id: int, token: str | None) -> int:
    """After login: move the anonymous cart's items into the user's cart (quantities add up,
    capped at 99) and delete the anonymous cart. Returns how many items moved."""
    if not token:
        return 0
    try:
        anon = db.session.execute(
            select(Cart).where(Cart.token == token, Cart.user_id.is_(None)).with_for_update()
        ).scalar_one_or_none()
        if anon is None or not anon.items:
            if anon is not None:
                db.session.delete(anon)
            db.session.commit()
            return 0
        mine = _get_or_create_cart(user_id=user_id, token=None)
        existing = {i.product_id: i for i in mine.items if i.product_id is not None}
        moved = 0
        for item in list(anon.items):
            if item.product_id is None:
                continue
            target = existing.get(item.product_id)
            if target is not None:
                target.quantity = min(MAX_QUANTITY, target.quantity + item.quantity)
            else:
                mine.items.append(CartItem(product_id=item.product_id, product_name=item.product_name,
                                           quantity=item.quantity))
            moved += 1
        db.session.delete(anon)
        db.session.flush()
        mine.updated_at = utcnow()
        db.session.commit()
        return moved
    except Exception:
        db.session.rollback()
        raise


# --- checkout --------------------------------------------------------------------------------

def checkout(user_id: int, checkout_token: str) -> Order:
    """Turn the user's cart into a pending order priced from our own products, then make sure it
    has its Payment Intent.

    The cart row is locked, so two submits of one form run one after the other; the token's
    first part (the cart's ``checkout_token``) becomes the order's (unique), so the second
    submit finds the first's order instead of creating another. Its second part fingerprints the
    cart the shopper reviewed: if anything was added, changed, removed or repriced since, nothing
    is bought. The cart is emptied in the same transaction.
    """
    base, _, reviewed = (checkout_token or "").partition(".")
    try:
        existing = db.session.execute(
            select(Order).where(Order.checkout_token == base, Order.user_id == user_id)
        ).scalar_one_or_none()
        if existing is None:
            cart = _locked_cart(user_id=user_id, token=None)
            # Re-check after the lock: a concurrent submit may have just created the order.
            existing = db.session.execute(
                select(Order).where(Order.checkout_token == base, Order.user_id == user_id)
            ).scalar_one_or_none()
        if existing is not None:
            db.session.commit()
            order = existing
        else:
            if cart is None or not cart.items:
                raise StoreError("Your cart is empty.")
            unsellable = [i.product_name for i in cart.items if not _sellable(i.product)]
            if unsellable:
                raise StoreError("Some items are no longer available: " + ", ".join(unsellable)
                                 + ". Please review your cart.")
            currency = store_currency()
            if not (secrets.compare_digest(cart.checkout_token, base)
                    and secrets.compare_digest(cart_fingerprint(cart.items, currency), reviewed)):
                raise CartChanged("Your cart changed in another window; please review it and check out again.")
            order = Order(user_id=user_id, status="pending", currency=currency, checkout_token=base,
                          total_amount=0, amount_refunded=0)
            for item in cart.items:
                order.lines.append(OrderLine(product_id=item.product_id, product_name=item.product.name,
                                             unit_amount=item.product.unit_amount, quantity=item.quantity))
            order.total_amount = sum(line.line_total for line in order.lines)
            db.session.add(order)
            cart.items.clear()
            cart.checkout_token = _new_token()
            db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    ensure_payment_intent(order.id)
    return order


def ensure_payment_intent(order_id: int) -> dict:
    """The order's Payment Intent, creating it once.

    The idempotency key is the order's, so if we crash between Stripe's answer and our commit,
    the retry gets the same intent back rather than a second one.
    """
    order = db.session.execute(select(Order).where(Order.id == order_id).with_for_update()).scalar_one()
    try:
        if order.stripe_payment_intent_id:
            pi_id = order.stripe_payment_intent_id
            db.session.commit()
            return gateway.retrieve_payment_intent(pi_id)
        from saas.billing.services import ensure_customer

        db.session.commit()  # ensure_customer locks the user row in its own transaction
        customer_id = ensure_customer(order.user_id)
        order = db.session.execute(select(Order).where(Order.id == order_id).with_for_update()).scalar_one()
        pi = gateway.create_payment_intent(
            amount=order.total_amount, currency=order.currency, customer_id=customer_id,
            metadata={"order_id": str(order.id), "user_id": str(order.user_id)},
            description=f"Order #{order.id}", idempotency_key=f"store-order-{order.id}-payment-intent")
        if order.stripe_payment_intent_id is None:
            order.stripe_payment_intent_id = pi["id"]
        db.session.commit()
        return pi
    except Exception:
        db.session.rollback()
        raise


def order_for_user(order_id: int, user_id: int) -> Order | None:
    order = db.session.get(Order, order_id)
    if order is None or order.user_id != user_id:
        return None
    return order


ORDERS_PAGE_SIZE = 20


@dataclass
class OrdersPage:
    orders: list[Order]
    older: int | None   # ?before= for the next (older) page
    newer: int | None   # ?after= for the previous (newer) page


def orders_for(user_id: int, *, before: int | None = None, after: int | None = None,
               limit: int = ORDERS_PAGE_SIZE) -> OrdersPage:
    """One page of the user's orders, newest first, by keyset on id: each page is a range scan
    of ix_orders_user_id_id however many orders the customer has and however deep the page."""
    stmt = select(Order).where(Order.user_id == user_id)
    if after is not None:
        rows = list(db.session.execute(
            stmt.where(Order.id > after).order_by(Order.id.asc()).limit(limit + 1)).scalars())
        more = len(rows) > limit
        rows = rows[:limit][::-1]
        return OrdersPage(rows, older=rows[-1].id if rows else None, newer=rows[0].id if (more and rows) else None)
    if before is not None:
        stmt = stmt.where(Order.id < before)
    rows = list(db.session.execute(stmt.order_by(Order.id.desc()).limit(limit + 1)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return OrdersPage(rows, older=rows[-1].id if (more and rows) else None,
                      newer=rows[0].id if (before is not None and rows) else None)


# --- applying Stripe state -----------------------------------------------------------------------

PLAIN_ERRORS = {
    "insufficient_funds": "Your card has insufficient funds. Try another card.",
    "expired_card": "Your card has expired. Try another card.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "processing_error": "Your bank could not process the payment. Please try again.",
    "payment_intent_authentication_failure":
        "Your bank could not confirm it was you (authentication failed). Try again or use another card.",
    "generic_decline": "Your card was declined. Try another card.",
    "card_declined": "Your card was declined. Try another card.",
}


def plain_failure(error: dict | None) -> tuple[str | None, str]:
    """(code, message in plain words) for a Payment Intent's last_payment_error."""
    error = error or {}
    for code in (error.get("decline_code"), error.get("code")):
        if code in PLAIN_ERRORS:
            return code, PLAIN_ERRORS[code]
    code = error.get("decline_code") or error.get("code")
    return code, (error.get("message") or "The payment did not go through. Try another card.")


def order_id_from_metadata(obj: dict) -> int | None:
    raw = (obj.get("metadata") or {}).get("order_id")
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def lock_order(order_id: int) -> Order | None:
    return db.session.execute(
        select(Order).where(Order.id == order_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()


# Statuses in which the order is waiting for Stripe to tell us something.
AWAITING_STRIPE = ("pending", "requires_action")


def refresh_order_if_waiting(order_id: int) -> bool:
    """The fallback for webhooks that do not come: if the order still waits for Stripe, re-read
    its Payment Intent (at most every STORE_RESYNC_SECONDS per order) and apply it exactly as
    the webhook handler would, under the same row lock. Returns True if Stripe was asked.

    Like the billing success page, this only speeds things up and can grant nothing the webhook
    would not: the intent is the one we stored, read from Stripe, through apply_stripe_intent.
    Raises gateway.BillingError if Stripe cannot be reached (nothing changed then).
    """
    order = db.session.get(Order, order_id)
    if order is None or order.status not in AWAITING_STRIPE or not order.stripe_payment_intent_id:
        return False
    pi_id = order.stripe_payment_intent_id
    db.session.commit()  # no transaction (or lock) held while Stripe answers
    if not _resync_due(order_id):
        return False
    pi = gateway.retrieve_payment_intent(pi_id)
    try:
        order = lock_order(order_id)
        apply_stripe_intent(order, pi)
        db.session.commit()
    except IntentNotForOrder as exc:
        db.session.rollback()
        log.warning("order %s not refreshed from Stripe: %s", order_id, exc)
    except Exception:
        db.session.rollback()
        raise
    return True


def _resync_due(order_id: int) -> bool:
    """True at most once per STORE_RESYNC_SECONDS per order, across processes (a Redis key that
    expires). Without Redis, a per-process clock keeps the limit, only less strictly."""
    from saas import queue

    interval = max(1, int(current_app.config["STORE_RESYNC_SECONDS"]))
    try:
        return bool(queue.redis_conn().set(f"store:order-resync:{order_id}", "1", nx=True, ex=interval))
    except Exception as exc:  # redis.RedisError, or REDIS_URL unset
        log.warning("order re-read throttle without Redis (%s); using this process's clock", type(exc).__name__)
    last = current_app.extensions.setdefault("saas.store.resync", {})
    now = time.monotonic()
    if now - last.get(order_id, float("-inf")) < interval:
        return False
    last[order_id] = now
    return True


class IntentNotForOrder(Exception):
    """Stripe's Payment Intent is not this order's payment; the reason says why."""


def why_intent_is_not_for(order: Order, pi: dict) -> str | None:
    """None if ``pi`` (as Stripe reports it: retrieved, never an event's payload) pays ``order``.

    The intent whose id we stored is the order's. With none stored (our commit after creating
    it was lost, or checkout could not reach Stripe), only an intent whose own metadata names the
    order and whose amount and currency are the order's may be bound: otherwise a signed event
    could attach any intent, say one for a cent, to any order.
    """
    if order.stripe_payment_intent_id:
        if pi.get("id") == order.stripe_payment_intent_id:
            return None
        return f"order {order.id} is paid through {order.stripe_payment_intent_id}, not {pi.get('id')}"
    if order_id_from_metadata(pi) != order.id:
        return f"Stripe's payment intent {pi.get('id')} does not name order {order.id} in its metadata"
    amount, currency = pi.get("amount"), (pi.get("currency") or "").lower()
    if amount != order.total_amount or currency != order.currency:
        return (f"Stripe's payment intent {pi.get('id')} names order {order.id} but is for {amount} {currency}; "
                f"the order is {order.total_amount} {order.currency}")
    return None


def apply_stripe_intent(order: Order, pi: dict) -> Order:
    """Bind the (locked) order to Stripe's intent ``pi`` if it may be bound, then apply its
    state. The webhook handlers and the order page's re-read both come through here. Raises
    IntentNotForOrder, changing nothing, if the intent is not the order's. Does not commit."""
    reason = why_intent_is_not_for(order, pi)
    if reason:
        if pi.get("status") == "succeeded":
            log.error("succeeded payment intent not applied: %s", reason)
        raise IntentNotForOrder(reason)
    if order.stripe_payment_intent_id is None:
        order.stripe_payment_intent_id = pi["id"]
    return apply_payment_intent(order, pi)


def apply_payment_intent(order: Order, pi: dict) -> Order:
    """Set the (locked) order's status from the Payment Intent's current state. Does not commit:
    the webhook job commits it together with the event's processed mark.

    Rules: paid (or refunded) never goes back; success fulfils once; success for a different
    amount or currency is flagged for review instead of paid.
    """
    status = pi.get("status")
    if status == "succeeded":
        received = pi.get("amount_received") or pi.get("amount")
        if received != order.total_amount or (pi.get("currency") or "").lower() != order.currency:
            reason = (f"Stripe reports {received} {pi.get('currency')} received for payment intent "
                      f"{pi.get('id')}, but the order total is {order.total_amount} {order.currency}.")
            if order.review_reason != reason:
                log.error("order %s not marked paid: %s", order.id, reason)
            order.review_reason = reason
            return order
        mark_paid(order)
        return order
    if order.status in ("paid", "refunded"):
        return order  # a stale failure/cancel/action event after success changes nothing
    if status == "canceled":
        order.status = "cancelled"
    elif status == "requires_action":
        order.status = "requires_action"
    elif status == "requires_payment_method":
        if pi.get("last_payment_error"):
            order.status = "failed"
            order.failure_code, order.failure_message = plain_failure(pi["last_payment_error"])
        # else: a fresh intent nobody has tried to pay yet; the order stays as it is
    elif status in ("processing", "requires_confirmation"):
        order.status = "pending"
    return order


def mark_paid(order: Order) -> bool:
    """Mark the order paid and fulfil it, once. Returns True if this call did the fulfilment.

    The conditional UPDATE is the guard: only the transaction that flips ``paid_at`` from NULL
    counts units sold, even if two transactions got here (the row lock normally prevents that).
    """
    if order.status not in ("paid", "refunded"):
        order.status = "paid"
    order.failure_code = order.failure_message = None
    db.session.flush()
    flipped = db.session.execute(
        update(Order).where(Order.id == order.id, Order.paid_at.is_(None)).values(paid_at=utcnow())
        .returning(Order.id)
    ).first()
    if not flipped:
        return False
    for line in order.lines:
        if line.product_id is not None:
            db.session.execute(update(Product).where(Product.id == line.product_id)
                               .values(units_sold=Product.units_sold + line.quantity))
    db.session.refresh(order, ["paid_at"])
    _count_revenue(order, orders=1, paid=order.total_amount)
    log.info("order %s paid and fulfilled (%s %s)", order.id, order.total_amount, order.currency)
    return True


def apply_refunded_amount(order: Order, amount_refunded: int) -> Order:
    """Record Stripe's refunded total for the (locked, paid) order. Refunds only grow, so a stale
    event carrying a smaller total is ignored; refunding the whole amount makes it refunded."""
    if order.status not in ("paid", "refunded"):
        return order
    before = order.amount_refunded or 0
    order.amount_refunded = max(before, int(amount_refunded or 0))
    if order.amount_refunded > before:
        _count_revenue(order, refunded=order.amount_refunded - before)
    if order.amount_refunded >= order.total_amount:
        order.status = "refunded"
    return order


def _count_revenue(order: Order, *, orders: int = 0, paid: int = 0, refunded: int = 0) -> None:
    """Add to the order's paid day in store_revenue_days, in the caller's transaction (which
    holds the order's row lock, so each fulfilment or refund growth is counted once)."""
    from sqlalchemy.dialects.postgresql import insert

    if order.paid_at is None:
        return
    from datetime import timezone

    day = order.paid_at.astimezone(timezone.utc).date()
    stmt = insert(StoreRevenueDay).values(day=day, currency=order.currency, orders_paid=orders,
                                          amount_paid=paid, amount_refunded=refunded)
    db.session.execute(stmt.on_conflict_do_update(
        index_elements=[StoreRevenueDay.day, StoreRevenueDay.currency],
        set_={"orders_paid": StoreRevenueDay.orders_paid + orders,
              "amount_paid": StoreRevenueDay.amount_paid + paid,
              "amount_refunded": StoreRevenueDay.amount_refunded + refunded}))


def refund_order(order_id: int, amount: int | None = None, *, idempotency_key: str) -> dict:
    """Ask Stripe to refund ``amount`` (default: everything not yet refunded) of a paid order.

    The order itself changes when the ``charge.refunded`` webhook arrives, so that Stripe stays
    the source of truth even if this call's answer is lost.
    """
    order = db.session.get(Order, order_id)
    try:
        if order is None:
            raise RefundNotAllowed("There is no such order.")
        if order.status != "paid" or not order.stripe_payment_intent_id:
            raise RefundNotAllowed(f"Only paid orders can be refunded; this one is {order.status}.")
        remaining = order.total_amount - (order.amount_refunded or 0)
        if amount is not None:
            if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
                raise RefundNotAllowed("The refund amount must be a positive whole number of minor units.")
            if amount > remaining:
                raise RefundNotAllowed(f"At most {remaining} can still be refunded on this order.")
        pi_id = order.stripe_payment_intent_id
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return gateway.create_refund(payment_intent_id=pi_id, amount=amount, idempotency_key=idempotency_key,
                                 metadata={"order_id": str(order_id)})
