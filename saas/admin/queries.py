"""Read side of the admin: dashboard figures, filtered lists with keyset pagination, and the
per-user timeline. Nothing here writes.

Lists page by keyset on ``id`` (newest first): "rows with id < cursor, ORDER BY id DESC LIMIT n"
is one index range scan however deep the page, where OFFSET would read and discard every
earlier row. Each filter has an index that leads with the filtered column and ends with id
(migrations 0001 and 0005), so a filtered page is a range scan too; test_lists.py shows the plans.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import case, func, literal_column, or_, select, tuple_

from saas.accounts.models import User
from saas.admin import store_bridge
from saas.admin.models import AdminAction
from saas.billing.models import Invoice, Plan, Subscription
from saas.extensions import db
from saas.timefmt import utcnow
from saas.webhooks.models import EVENT_STATUSES, WebhookEvent

SUBSCRIPTION_STATUSES = ("trialing", "active", "past_due", "unpaid", "incomplete", "incomplete_expired",
                         "canceled", "paused")
INVOICE_STATUSES = ("draft", "open", "paid", "uncollectible", "void")
# Statuses whose plan amount counts towards MRR: past_due is still being collected.
MRR_STATUSES = ("active", "past_due")
PAGE_SIZE = 50


class BadFilter(ValueError):
    """A filter value we cannot use; the message is shown to the admin."""


# --- filters and keyset pages ---------------------------------------------------------------

@dataclass
class Filters:
    status: str | None = None
    type: str | None = None
    email: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    before: int | None = None   # cursor: rows older than this id
    after: int | None = None    # cursor: rows newer than this id (the "newer" link)

    def query_args(self) -> dict:
        out = {"status": self.status, "type": self.type, "email": self.email,
               "from": self.date_from.isoformat() if self.date_from else None,
               "to": self.date_to.isoformat() if self.date_to else None}
        return {k: v for k, v in out.items() if v}


def parse_filters(args, statuses: tuple[str, ...]) -> Filters:
    """Validate list filters from a query string; raises BadFilter naming the bad field."""
    f = Filters()
    status = (args.get("status") or "").strip()
    if status:
        if status not in statuses:
            raise BadFilter(f"Unknown status {status!r}. Choose one of: {', '.join(statuses)}.")
        f.status = status
    type_ = (args.get("type") or "").strip()
    if type_:
        if len(type_) > 100 or not all(c.isalnum() or c in "._" for c in type_):
            raise BadFilter("An event type looks like invoice.paid (letters, dots and underscores).")
        f.type = type_
    email = (args.get("email") or "").strip()
    if email:
        if len(email) > 254 or "@" not in email:
            raise BadFilter("Filter by a full email address, e.g. ada@example.com.")
        f.email = email
    for key, attr in (("from", "date_from"), ("to", "date_to")):
        raw = (args.get(key) or "").strip()
        if raw:
            try:
                setattr(f, attr, date.fromisoformat(raw))
            except ValueError:
                raise BadFilter(f"The '{key}' date must look like 2026-01-31.") from None
    if f.date_from and f.date_to and f.date_from > f.date_to:
        raise BadFilter("The 'from' date is after the 'to' date.")
    for key in ("before", "after"):
        raw = (args.get(key) or "").strip()
        if raw:
            if not raw.isdigit() or len(raw) > 18:
                raise BadFilter("That page link is broken; start again from the first page.")
            setattr(f, key, int(raw))
    return f


@dataclass
class Page:
    rows: list
    older: int | None = None     # pass as ?before= for the next (older) page
    newer: int | None = None     # pass as ?after= for the previous (newer) page
    unknown_email: bool = False


@dataclass(frozen=True)
class ListSpec:
    model: type
    date_column: object
    status_column: object | None = None
    type_column: object | None = None
    # With a date filter, page by (date, id) instead of id alone, through an index on
    # (date, id): a date range deep in a big table is then a backward range scan from the
    # range's end, where "ORDER BY id" would walk every newer row or sort the whole range.
    date_keyset: bool = False


SUBSCRIPTIONS = ListSpec(Subscription, Subscription.stripe_created, Subscription.status)
INVOICES = ListSpec(Invoice, Invoice.stripe_created, Invoice.status)
EVENTS = ListSpec(WebhookEvent, WebhookEvent.received_at, WebhookEvent.status, WebhookEvent.type)


def user_id_for_email(email: str) -> int | None:
    return db.session.execute(
        select(User.id).where(func.lower(User.email) == email.strip().lower())).scalar_one_or_none()


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def _by_date(spec: ListSpec, f: Filters) -> bool:
    return spec.date_keyset and bool(f.date_from or f.date_to)


def keyset_select(spec: ListSpec, f: Filters, user_id: int | None, limit: int, cursor_date=None):
    """The page query (exposed so the plan test EXPLAINs exactly what the page runs).
    ``cursor_date`` is the date of the cursor row, for lists paged by (date, id)."""
    model = spec.model
    stmt = select(model)
    if f.status is not None and spec.status_column is not None:
        stmt = stmt.where(spec.status_column == f.status)
    if f.type is not None and spec.type_column is not None:
        stmt = stmt.where(spec.type_column == f.type)
    if user_id is not None:
        stmt = stmt.where(model.user_id == user_id)
    if f.date_from:
        stmt = stmt.where(spec.date_column >= _start_of(f.date_from))
    if f.date_to:  # inclusive of the whole 'to' day
        stmt = stmt.where(spec.date_column < _start_of(f.date_to + timedelta(days=1)))
    if _by_date(spec, f):
        key = tuple_(spec.date_column, model.id)
        if f.after is not None:
            return (stmt.where(key > tuple_(cursor_date, f.after))
                    .order_by(spec.date_column.asc(), model.id.asc()).limit(limit + 1))
        if f.before is not None:
            stmt = stmt.where(key < tuple_(cursor_date, f.before))
        return stmt.order_by(spec.date_column.desc(), model.id.desc()).limit(limit + 1)
    if f.after is not None:
        return stmt.where(model.id > f.after).order_by(model.id.asc()).limit(limit + 1)
    if f.before is not None:
        stmt = stmt.where(model.id < f.before)
    return stmt.order_by(model.id.desc()).limit(limit + 1)


def keyset_page(spec: ListSpec, f: Filters, limit: int = PAGE_SIZE) -> Page:
    user_id = None
    if f.email:
        user_id = user_id_for_email(f.email)
        if user_id is None:
            return Page(rows=[], unknown_email=True)
    cursor_date = None
    if _by_date(spec, f) and (f.before is not None or f.after is not None):
        cursor_date = db.session.execute(select(spec.date_column).where(
            spec.model.id == (f.after if f.after is not None else f.before))).scalar_one_or_none()
        if cursor_date is None:
            return Page(rows=[])  # the cursor row is gone; the page offers "start again"
    rows = list(db.session.execute(keyset_select(spec, f, user_id, limit, cursor_date)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    if f.after is not None:
        rows.reverse()  # fetched oldest-first to find the page just above the cursor
        newer = rows[0].id if (more and rows) else None
        older = rows[-1].id if rows else None
    else:
        older = rows[-1].id if (more and rows) else None
        newer = rows[0].id if (f.before is not None and rows) else None
    return Page(rows=rows, older=older, newer=newer)


def emails_for(user_ids) -> dict[int, str]:
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())


# --- dashboard ------------------------------------------------------------------------------

def _monthly_amount():
    """A plan's amount per month, in minor units (numeric; rounded by the callers)."""
    amount = Plan.unit_amount * Subscription.quantity
    return case(
        (Plan.interval == "year", amount / literal_column("12.0")),
        (Plan.interval == "week", amount * 52 / literal_column("12.0")),
        (Plan.interval == "day", amount * 365 / literal_column("12.0")),
        else_=amount * literal_column("1.0"),
    )


def subscription_counts() -> dict[str, int]:
    rows = db.session.execute(select(Subscription.status, func.count()).group_by(Subscription.status)).all()
    return {status: int(n) for status, n in sorted(rows, key=lambda r: -r[1])}


def mrr() -> dict[str, int]:
    """Monthly recurring revenue per currency: the plan amounts of active and past_due
    subscriptions normalised to a month. Unknown prices are not ours to count."""
    rows = db.session.execute(
        select(Plan.currency, func.round(func.sum(_monthly_amount())))
        .select_from(Subscription)
        .join(Plan, Plan.stripe_price_id == Subscription.stripe_price_id)
        .where(Subscription.status.in_(MRR_STATUSES), Subscription.unknown_price.is_(False))
        .group_by(Plan.currency)
    ).all()
    return {currency: int(total or 0) for currency, total in rows}


def month_starts(n: int, now: datetime | None = None) -> list[datetime]:
    now = now or utcnow()
    y, m = now.year, now.month
    out = []
    for _ in range(n):
        out.append(datetime(y, m, 1, tzinfo=timezone.utc))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return list(reversed(out))


def mrr_history(currency: str, months: int = 12) -> list[tuple[datetime, int]]:
    """MRR at the end of each of the last ``months`` months (the last point is today's MRR).

    Reconstructed from start, trial end and end dates: a subscription counts from when it
    started paying until it ended. Subscriptions that are unpaid, paused or never got going
    are left out entirely, since we do not know when they stopped paying."""
    starts = month_starts(months)
    points = []
    started = func.greatest(Subscription.stripe_created, func.coalesce(Subscription.trial_end, Subscription.stripe_created))
    base = (select(func.round(func.coalesce(func.sum(_monthly_amount()), 0)))
            .select_from(Subscription)
            .join(Plan, Plan.stripe_price_id == Subscription.stripe_price_id)
            .where(Plan.currency == currency, Subscription.unknown_price.is_(False)))
    for i, start in enumerate(starts):
        if i == len(starts) - 1:
            points.append((start, mrr().get(currency, 0)))
            continue
        end = starts[i + 1]
        value = db.session.execute(base.where(
            Subscription.status.in_(("active", "past_due", "canceled")),
            started < end,
            or_(Subscription.ended_at.is_(None), Subscription.ended_at >= end),
        )).scalar()
        points.append((start, int(value or 0)))
    return points


def revenue_history(currency: str, months: int = 12) -> list[tuple[datetime, int, int]]:
    """(month, subscription revenue, store revenue) collected per month, net of store refunds."""
    starts = month_starts(months)
    month = func.date_trunc("month", func.timezone("UTC", Invoice.paid_at))
    subs = {m.replace(tzinfo=timezone.utc): int(v) for m, v in db.session.execute(
        select(month, func.sum(Invoice.amount_paid))
        .where(Invoice.status == "paid", Invoice.paid_at >= starts[0], Invoice.currency == currency)
        .group_by(month)).all()}
    store = {m.replace(tzinfo=timezone.utc): v for m, c, v in store_bridge.monthly_revenue(starts[0]) if c == currency}
    return [(s, subs.get(s, 0), store.get(s, 0)) for s in starts]


def invoice_revenue_since(since: datetime) -> dict[str, int]:
    rows = db.session.execute(
        select(Invoice.currency, func.sum(Invoice.amount_paid))
        .where(Invoice.status == "paid", Invoice.paid_at >= since).group_by(Invoice.currency)).all()
    return {c: int(v) for c, v in rows}


@dataclass
class Dashboard:
    counts: dict[str, int]
    mrr: dict[str, int]
    currency: str
    failed_payments: int
    failed_events: int
    retrying_events: int
    store_available: bool
    store_revenue_30d: dict[str, int]
    subscription_revenue_30d: dict[str, int]
    store_orders_30d: int = 0
    flagged_orders: int = 0
    flagged: list = field(default_factory=list)
    recent_orders: list = field(default_factory=list)
    mrr_points: list = field(default_factory=list)
    revenue_points: list = field(default_factory=list)
    recent_problems: list = field(default_factory=list)
    emails: dict = field(default_factory=dict)


def dashboard(default_currency: str) -> Dashboard:
    counts = subscription_counts()
    mrr_now = mrr()
    # Chart the currency that earns most; a single-currency business sees just that.
    currency = max(mrr_now, key=mrr_now.get) if mrr_now else default_currency
    # "Last 30 days" is today and the 29 UTC days before it: whole days, as the store's
    # revenue is kept per day.
    since_day = utcnow().date() - timedelta(days=29)
    since = _start_of(since_day)
    flagged_count, flagged = store_bridge.flagged_orders()
    recent = store_bridge.recent_orders()
    event_counts = dict(db.session.execute(
        select(WebhookEvent.status, func.count()).where(WebhookEvent.status.in_(("failed", "retrying")))
        .group_by(WebhookEvent.status)).all())
    failed_payments = db.session.execute(
        select(func.count()).select_from(Invoice)
        .where(Invoice.status == "open", Invoice.payment_problem.is_not(None))).scalar()
    problems = list(db.session.execute(
        select(Invoice).where(Invoice.status == "open", Invoice.payment_problem.is_not(None))
        .order_by(Invoice.id.desc()).limit(5)).scalars())
    return Dashboard(
        counts=counts, mrr=mrr_now, currency=currency,
        failed_payments=int(failed_payments or 0),
        failed_events=int(event_counts.get("failed", 0)),
        retrying_events=int(event_counts.get("retrying", 0)),
        store_available=store_bridge.AVAILABLE,
        store_revenue_30d=store_bridge.revenue_since(since_day),
        subscription_revenue_30d=invoice_revenue_since(since),
        store_orders_30d=store_bridge.orders_paid_since(since_day),
        flagged_orders=flagged_count, flagged=flagged, recent_orders=recent,
        mrr_points=mrr_history(currency),
        revenue_points=revenue_history(currency),
        recent_problems=problems,
        emails=emails_for([i.user_id for i in problems] + [o.user_id for o in flagged + recent]),
    )


# --- the per-user timeline ------------------------------------------------------------------

@dataclass
class Entry:
    at: datetime | None
    kind: str          # account | subscription | invoice | event | order | action
    title: str
    detail: str = ""
    tone: str = "muted"  # ok | warn | bad | muted: the badge colour
    stripe: tuple[str, str] | None = None  # (object kind, id) for a Stripe dashboard link
    link: str | None = None                 # an admin page


EVENT_TONE = {"processed": "ok", "ignored": "muted", "received": "warn", "retrying": "warn", "failed": "bad"}
SUB_TONE = {"active": "ok", "trialing": "ok", "past_due": "warn", "unpaid": "bad", "incomplete": "warn",
            "incomplete_expired": "muted", "canceled": "muted", "paused": "warn"}
INVOICE_TONE = {"paid": "ok", "open": "warn", "void": "muted", "uncollectible": "bad", "draft": "muted"}


@dataclass
class UserFile:
    user: User
    subscriptions: list
    invoices: list
    events: list
    orders: list
    actions: list
    timeline: list[Entry]


def events_touching(user: User, stripe_ids: list[str], limit: int = 200) -> list[WebhookEvent]:
    """Events attributed to the user by a handler, or about one of their Stripe objects
    (covers events that failed before a handler could attribute them)."""
    ids = [i for i in stripe_ids if i]
    cond = WebhookEvent.user_id == user.id
    if ids:
        cond = or_(cond, WebhookEvent.object_id.in_(ids))
    return list(db.session.execute(
        select(WebhookEvent).where(cond).order_by(WebhookEvent.id.desc()).limit(limit)).scalars())


def user_file(user_id: int) -> UserFile | None:
    user = db.session.get(User, user_id)
    if user is None:
        return None
    subs = list(db.session.execute(
        select(Subscription).where(Subscription.user_id == user.id).order_by(Subscription.id.desc())).scalars())
    invoices = list(db.session.execute(
        select(Invoice).where(Invoice.user_id == user.id).order_by(Invoice.id.desc()).limit(200)).scalars())
    orders = store_bridge.orders_for_user(user.id)
    stripe_ids = [user.stripe_customer_id] + [s.stripe_id for s in subs] + [i.stripe_id for i in invoices]
    stripe_ids += [getattr(o, "stripe_payment_intent_id", None) for o in orders]
    events = events_touching(user, stripe_ids)
    actions = list(db.session.execute(
        select(AdminAction).where(AdminAction.subject_user_id == user.id)
        .order_by(AdminAction.id.desc()).limit(100)).scalars())
    return UserFile(user, subs, invoices, events, orders, actions,
                    build_timeline(user, subs, invoices, events, orders, actions))


def _status_change(event: WebhookEvent) -> tuple[str, str] | None:
    data = (event.payload or {}).get("data") or {}
    previous = (data.get("previous_attributes") or {}).get("status")
    current = (data.get("object") or {}).get("status")
    if isinstance(previous, str) and isinstance(current, str) and previous != current:
        return previous, current
    return None


def build_timeline(user, subs, invoices, events, orders, actions) -> list[Entry]:
    from saas.money import format_money

    out = [Entry(user.created_at, "account", "Account created", user.email, "muted",
                 ("customer", user.stripe_customer_id) if user.stripe_customer_id else None)]
    for s in subs:
        out.append(Entry(s.stripe_created or s.created_at, "subscription", f"Subscription started ({s.status} now)",
                         s.stripe_id + (" · unknown price" if s.unknown_price else ""),
                         SUB_TONE.get(s.status, "muted"), ("subscription", s.stripe_id)))
        if s.trial_end and s.trial_start:
            out.append(Entry(s.trial_end, "subscription", "Trial ends", s.stripe_id, "muted", ("subscription", s.stripe_id)))
        if s.canceled_at:
            out.append(Entry(s.canceled_at, "subscription", "Cancellation requested", s.stripe_id, "warn",
                             ("subscription", s.stripe_id)))
        if s.ended_at:
            out.append(Entry(s.ended_at, "subscription", "Subscription ended", s.stripe_id, "muted",
                             ("subscription", s.stripe_id)))
    for inv in invoices:
        amount = format_money(inv.amount_due, inv.currency)
        out.append(Entry(inv.stripe_created or inv.created_at, "invoice", f"Invoice {inv.number or inv.stripe_id}",
                         f"{amount} · {inv.status}" + (f" · {inv.payment_problem.replace('_', ' ')}" if inv.payment_problem else ""),
                         "bad" if inv.payment_problem else INVOICE_TONE.get(inv.status, "muted"),
                         ("invoice", inv.stripe_id)))
        if inv.paid_at:
            out.append(Entry(inv.paid_at, "invoice", f"Invoice {inv.number or inv.stripe_id} paid",
                             format_money(inv.amount_paid, inv.currency), "ok", ("invoice", inv.stripe_id)))
    for ev in events:
        change = _status_change(ev)
        title = f"Webhook {ev.type}" + (f": {change[0]} → {change[1]}" if change else "")
        out.append(Entry(ev.received_at, "event", title, f"{ev.status} · {ev.object_id or ''}",
                         EVENT_TONE.get(ev.status, "muted"), ("event", ev.stripe_id), link=f"event:{ev.id}"))
    for o in orders:
        when = getattr(o, "paid_at", None) or getattr(o, "created_at", None)
        refunded = getattr(o, "amount_refunded", 0) or 0
        detail = format_money(o.total_amount, o.currency) + f" · {o.status}"
        if refunded:
            detail += f" · {format_money(refunded, o.currency)} refunded"
        pi = getattr(o, "stripe_payment_intent_id", None)
        review = getattr(o, "review_reason", None)
        tone = "bad" if review or o.status == "failed" else ("ok" if o.status == "paid" else "muted")
        title = f"Order #{o.id}" + (" flagged for review" if review else "")
        if review:
            detail += f" · {review}"
        out.append(Entry(when, "order", title, detail, tone, ("payment", pi) if pi else None, link=f"order:{o.id}"))
    for a in actions:
        out.append(Entry(a.created_at, "action", f"Admin: {a.action.replace('_', ' ')}",
                         f"by {a.admin_email} · {a.outcome}" + (f" · {a.detail}" if a.detail else ""),
                         "ok" if a.outcome == "ok" else "bad"))
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    out.sort(key=lambda e: e.at or epoch, reverse=True)
    return out
