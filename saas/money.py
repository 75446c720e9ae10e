"""Money is an integer amount in the currency's minor unit plus an ISO currency code."""

from __future__ import annotations

import re
from decimal import Decimal, Inexact, localcontext

# Stripe's list of zero-decimal currencies: the amount is already in whole units.
ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)
# Three-decimal currencies (Stripe requires amounts in thousandths).
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())

SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "krw": "₩", "inr": "₹", "cad": "CA$", "aud": "A$"}


def exponent(currency: str) -> int:
    c = (currency or "").lower()
    if c in ZERO_DECIMAL:
        return 0
    if c in THREE_DECIMAL:
        return 3
    return 2


def format_money(amount: int | None, currency: str | None) -> str:
    """``format_money(500, "usd") == "$5.00"``; ``format_money(500, "jpy") == "¥500"``."""
    if amount is None or not currency:
        return "—"
    currency = currency.lower()
    exp = exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(int(amount)), 10**exp) if exp else (abs(int(amount)), 0)
    number = f"{whole:,}" + (f".{frac:0{exp}d}" if exp else "")
    symbol = SYMBOLS.get(currency)
    if symbol:
        return f"{sign}{symbol}{number}"
    return f"{sign}{number} {currency.upper()}"


# Far above anything Stripe accepts (its largest amounts have 8 digits), and far below what the
# database's BIGINT holds: anything bigger is a typo or an attack, not a refund.
MAX_MINOR_UNITS = 10**12
_AMOUNT_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]{1,3})?|-?\.[0-9]+")


def to_minor_units(amount_text: str, currency: str) -> int:
    """Parse "12.34" into 1234 (or "500" JPY into 500).

    Raises ValueError, and only ValueError, with a reason a form can show for anything that is
    not a plain finite amount: "NaN", "Infinity", "sNaN", "1e999999", "1_000", or more decimals
    than the currency has. (Decimal itself accepts all of those and then raises OverflowError
    or InvalidOperation further on.)
    """
    text = str(amount_text if amount_text is not None else "").strip()
    if not text:
        raise ValueError("Enter an amount.")
    if len(text) > 40 or not _AMOUNT_TEXT.fullmatch(text):
        raise ValueError(f"{text[:40]!r} is not an amount; write it like 12.34.")
    value = Decimal(text)
    if not value.is_finite():  # the pattern already excludes these; kept as the invariant
        raise ValueError(f"{text!r} is not a finite amount.")
    exp = exponent(currency)
    label = (currency or "").upper()
    if value and value.adjusted() < -exp:
        raise ValueError(f"{text!r} has too many decimals for {label}.")
    if value and value.adjusted() + exp >= len(str(MAX_MINOR_UNITS)):
        raise ValueError(f"{text!r} is too large an amount.")
    # Exact arithmetic: at most 40 digits fit in 60, and any rounding would raise.
    with localcontext() as ctx:
        ctx.prec = 60
        ctx.traps[Inexact] = True
        scaled = value.scaleb(exp)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{text!r} has too many decimals for {label}.")
    minor = int(scaled)
    if abs(minor) >= MAX_MINOR_UNITS:
        raise ValueError(f"{text!r} is too large an amount.")
    return minor
