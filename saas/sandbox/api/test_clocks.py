"""/v1/test_helpers/test_clocks: Stripe's time travel. Customers created with
`test_clock=clock_...` live at the clock's frozen time; advancing runs whatever fell due."""
from __future__ import annotations

from ..errors import StripeError, invalid
from ..params import INT, STR
from ..shapes import catalog
from ..engine import timetravel
from .base import endpoint, paginate

KIND = "test_helpers.test_clock"


def routes(bp):
    @endpoint(bp, "/test_helpers/test_clocks", "POST", {"!frozen_time": INT, "name": STR})
    def create_test_clock(sb, p):
        st = sb.store
        clock = st.add(catalog.test_clock(created=st.now(), frozen_time=p["frozen_time"], name=p.get("name")))
        st.emit("test_helpers.test_clock.created", clock)
        return clock

    @endpoint(bp, "/test_helpers/test_clocks/<clock_id>")
    def retrieve_test_clock(sb, p, clock_id):
        return sb.store.get(clock_id, KIND)

    @endpoint(bp, "/test_helpers/test_clocks", listing=True)
    def list_test_clocks(sb, p):
        return paginate(sb.store.all(KIND), p, "/v1/test_helpers/test_clocks")

    @endpoint(bp, "/test_helpers/test_clocks/<clock_id>", "DELETE")
    def delete_test_clock(sb, p, clock_id):
        st = sb.store
        clock = st.get(clock_id, KIND)
        st.objects.pop(clock_id)
        st.emit("test_helpers.test_clock.deleted", clock)
        return {"id": clock_id, "object": KIND, "deleted": True}

    @endpoint(bp, "/test_helpers/test_clocks/<clock_id>/advance", "POST", {"!frozen_time": INT})
    def advance_test_clock(sb, p, clock_id):
        st = sb.store
        clock = st.get(clock_id, KIND)
        if p["frozen_time"] < clock["frozen_time"]:
            raise invalid("frozen_time", "The clock can only be advanced forward in time.",
                          "parameter_invalid_integer")
        # Stripe advances asynchronously (status "advancing"); we run it inline and finish "ready".
        customers = [c["id"] for c in st.all("customer") if c["test_clock"] == clock_id]
        clock["status"] = "advancing"
        st.emit("test_helpers.test_clock.advancing", clock)
        timetravel.advance(st, customers, p["frozen_time"])
        clock.update(frozen_time=p["frozen_time"], status="ready")
        st.emit("test_helpers.test_clock.ready", clock)
        return clock
