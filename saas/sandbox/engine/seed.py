"""Objects every fresh sandbox starts with."""
from __future__ import annotations

from ..shapes import catalog
from ..util import real_now


def seed(store) -> None:
    # A test promotion code so "have a code?" flows can be exercised without setup.
    now = real_now()
    coupon = store.add(catalog.coupon(created=now, obj_id="SANDBOX20", name="20% off", percent_off=20.0,
                                      duration="forever"))
    store.add(catalog.promotion_code(created=now, code="SANDBOX20", coupon_obj=coupon))
