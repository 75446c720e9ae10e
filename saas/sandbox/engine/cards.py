"""Stripe's test cards and test payment-method tokens, and what each one does."""
from __future__ import annotations

import re

from ..errors import StripeError

OK, DECLINE, THREE_DS, FAIL_CHARGES = "ok", "decline", "3ds", "fail_charges"

GENERIC = ("card_declined", "generic_decline", "Your card was declined.")
INSUFFICIENT = ("card_declined", "insufficient_funds", "Your card has insufficient funds.")
EXPIRED = ("card_declined", "expired_card", "Your card has expired.")
CVC = ("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect.")
PROCESSING = ("processing_error", "processing_error",
              "An error occurred while processing your card. Try again in a little bit.")

# number -> (brand, behaviour, decline tuple)
CARDS = {
    "4242424242424242": ("visa", OK, None),
    "4000056655665556": ("visa", OK, None),
    "5555555555554444": ("mastercard", OK, None),
    "2223003122003222": ("mastercard", OK, None),
    "378282246310005": ("amex", OK, None),
    "6011111111111117": ("discover", OK, None),
    "4000000000000002": ("visa", DECLINE, GENERIC),
    "4000000000009995": ("visa", DECLINE, INSUFFICIENT),
    "4000000000000069": ("visa", DECLINE, EXPIRED),
    "4000000000000127": ("visa", DECLINE, CVC),
    "4000000000000119": ("visa", DECLINE, PROCESSING),
    "4000000000000341": ("visa", FAIL_CHARGES, GENERIC),  # attaches fine, every charge fails
    "4000002760003184": ("visa", THREE_DS, None),  # always requires authentication
    "4000002500003155": ("visa", THREE_DS, None),
    "4000000000003220": ("visa", THREE_DS, None),
}

TOKENS = {
    "pm_card_visa": "4242424242424242", "tok_visa": "4242424242424242",
    "pm_card_mastercard": "5555555555554444", "pm_card_amex": "378282246310005",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_chargeDeclined": "4000000000000002", "tok_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_chargeCustomerFail": "4000000000000341",
    "pm_card_authenticationRequired": "4000002760003184",
    "pm_card_threeDSecure2Required": "4000000000003220",
}

FAILING_CHARGES_CARD = "4000000000000341"
THREE_DS_CARD = "4000002760003184"


def clean_number(raw: str | None) -> str:
    return re.sub(r"[\s-]", "", raw or "")


def luhn_ok(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def brand_of(number: str) -> str:
    if number in CARDS:
        return CARDS[number][0]
    if number.startswith("4"):
        return "visa"
    if number[:2] in ("34", "37"):
        return "amex"
    if number[:1] in ("5", "2"):
        return "mastercard"
    return "unknown"


def check_number(number: str, param: str = "card[number]") -> None:
    """Raise Stripe's card error for a number that is not a valid card number."""
    if not luhn_ok(number):
        raise StripeError("Your card number is invalid.", status=402, type="card_error",
                          code="invalid_number", param=param)


def behaviour(number: str) -> tuple[str, tuple | None]:
    """What charging this card does. Unknown but valid numbers succeed, as Stripe's do."""
    _, kind, decline = CARDS.get(number, ("", OK, None))
    return kind, decline


def parse_expiry(raw: str | None) -> tuple[int, int] | None:
    """'12 / 34', '12/2034', '1234' -> (12, 2034); None when malformed."""
    digits = re.sub(r"\D", "", raw or "")
    if len(digits) == 4:
        m, y = int(digits[:2]), 2000 + int(digits[2:])
    elif len(digits) == 6:
        m, y = int(digits[:2]), int(digits[2:])
    else:
        return None
    return (m, y) if 1 <= m <= 12 else None
