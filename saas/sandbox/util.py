"""Small helpers shared by the sandbox modules: ids, clocks, intervals and money formatting."""
from __future__ import annotations

import calendar
import copy
import datetime as _dt
import secrets
import string
import time

_ALNUM = string.ascii_letters + string.digits


def rand_str(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def new_id(prefix: str, n: int = 24) -> str:
    """Stripe ids are a type prefix plus an opaque alphanumeric tail."""
    return prefix + rand_str(n)


def real_now() -> int:
    return int(time.time())


def clone(obj):
    return copy.deepcopy(obj)


def add_interval(ts: int, interval: str, count: int) -> int:
    """`ts` moved forward by count intervals; months clamp to the month's last day like Stripe."""
    if interval == "day":
        return ts + 86400 * count
    if interval == "week":
        return ts + 7 * 86400 * count
    months = count * (12 if interval == "year" else 1)
    dt = _dt.datetime.fromtimestamp(ts, _dt.timezone.utc)
    m0 = dt.month - 1 + months
    year, month = dt.year + m0 // 12, m0 % 12 + 1
    day = min(dt.day, calendar.monthrange(year, month)[1])
    return int(dt.replace(year=year, month=month, day=day).timestamp())


# Currencies whose smallest unit is the whole unit (amount 500 JPY is ¥500, not ¥5.00).
ZERO_DECIMAL = {
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf",
    "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
}
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$",
            "inr": "₹", "krw": "₩", "chf": "CHF ", "cny": "CN¥"}


def format_amount(amount: int | None, currency: str | None) -> str:
    amount = amount or 0
    cur = (currency or "usd").lower()
    sym = _SYMBOLS.get(cur, cur.upper() + " ")
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if cur in ZERO_DECIMAL:
        return f"{sign}{sym}{amount:,}"
    return f"{sign}{sym}{amount // 100:,}.{amount % 100:02d}"


def format_date(ts: int | None) -> str:
    if not ts:
        return ""
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%b %-d, %Y")


def interval_text(recurring: dict | None) -> str:
    if not recurring:
        return ""
    n, unit = recurring.get("interval_count") or 1, recurring.get("interval")
    return f"per {unit}" if n == 1 else f"every {n} {unit}s"
