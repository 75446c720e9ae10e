"""/v1/events: the event log (every state change appends one)."""
from __future__ import annotations

from ..params import BOOL, STR
from .base import created_filter, endpoint, paginate


def routes(bp):
    @endpoint(bp, "/events/<evt_id>")
    def retrieve_event(sb, p, evt_id):
        return sb.store.get(evt_id, "event")

    @endpoint(bp, "/events", spec={"type": STR, "types": [STR], "created": "any",
                                   "delivery_success": BOOL}, listing=True)
    def list_events(sb, p):
        items = list(reversed(sb.store.events))
        if p.get("type"):
            t = p["type"]
            # Stripe allows one trailing wildcard: `type=invoice.*`.
            items = [e for e in items if (e["type"].startswith(t[:-1]) if t.endswith("*") else e["type"] == t)]
        if p.get("types"):
            items = [e for e in items if e["type"] in p["types"]]
        items = created_filter(items, p.get("created"))
        return paginate(items, p, "/v1/events")
