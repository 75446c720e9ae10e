"""Store forms. Quantities are validated by services.parse_quantity so that the form, the cart
service and the error text agree."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, ValidationError

from saas.store.services import StoreError, parse_quantity

# The fields each store form may carry. Anything else (price, amount, currency, total, or a
# quantity sent to checkout) means the request is trying to name its own terms: it is refused
# outright, with nothing changed.
ADD_FIELDS = frozenset({"csrf_token", "product_id", "quantity"})
QUANTITY_FIELDS = frozenset({"csrf_token", "quantity"})
ACTION_FIELDS = frozenset({"csrf_token"})
CHECKOUT_FIELDS = frozenset({"csrf_token", "checkout_token"})


class _Quantity:
    def __call__(self, form, field):
        try:
            field.parsed = parse_quantity(field.data)
        except StoreError as exc:
            raise ValidationError(exc.user_message) from None


class AddToCartForm(FlaskForm):
    product_id = IntegerField("Product", validators=[InputRequired(message="Choose a product.")])
    quantity = StringField("Quantity", default="1", validators=[_Quantity()])


class QuantityForm(FlaskForm):
    quantity = StringField("Quantity", validators=[_Quantity()])


class CheckoutForm(FlaskForm):
    checkout_token = HiddenField(validators=[DataRequired()])


class ActionForm(FlaskForm):
    """A button that needs a CSRF token."""
