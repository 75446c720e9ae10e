"""Money is an integer amount in the currency's minor unit plus an ISO currency code."""

from __future__ import annotations

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


def to_minor_units(amount_text: str, currency: str) -> int:
    """Parse "12.34" into 1234 (or "500" JPY into 500); raises ValueError on anything else."""
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(str(amount_text).strip())
    except InvalidOperation as exc:
        raise ValueError(f"{amount_text!r} is not an amount") from exc
    scaled = value * (10 ** exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount_text!r} has too many decimals for {currency.upper()}")
    return int(scaled)
