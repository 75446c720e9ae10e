"""saas.money.to_minor_units: the one parser of typed amounts (the admin refund form uses it).
Whatever the text, the answer is an int or a ValueError with a reason, never another exception."""

from __future__ import annotations

import pytest

from saas.money import to_minor_units


@pytest.mark.parametrize("text,currency,expected", [
    ("12.34", "usd", 1234), ("5", "usd", 500), (" 0.01 ", "usd", 1), ("500", "jpy", 500),
    ("1.234", "kwd", 1234), ("12.30", "eur", 1230), ("1e2", "usd", 10000), ("999999.99", "usd", 99999999),
])
def test_parses_amounts_in_the_currency_minor_unit(text, currency, expected):
    assert to_minor_units(text, currency) == expected
    assert type(to_minor_units(text, currency)) is int


@pytest.mark.parametrize("text", [
    "Infinity", "-Infinity", "inf", "NaN", "-nan", "sNaN", "1e999999", "-1e999999", "9" * 60,
    "1e-999999", "0.000000000000000000000000000000001", "1.000000000000000000000000000001",
    "", " ", "abc", "1,5", "12.3.4", "0x10", "1_000",
])
def test_non_finite_absurd_and_malformed_amounts_raise_value_error(text):
    with pytest.raises(ValueError) as info:
        to_minor_units(text, "usd")
    assert type(info.value) is ValueError
    assert str(info.value)  # a reason the form can show


def test_too_many_decimals_for_the_currency():
    with pytest.raises(ValueError, match="too many decimals for JPY"):
        to_minor_units("0.5", "jpy")
    with pytest.raises(ValueError, match="too many decimals for USD"):
        to_minor_units("1.005", "usd")
