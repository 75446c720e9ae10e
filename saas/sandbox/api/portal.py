"""/v1/billing_portal/sessions."""
from __future__ import annotations

from ..params import STR
from ..shapes import catalog
from .base import endpoint


def routes(bp):
    @endpoint(bp, "/billing_portal/sessions", "POST", {"!customer": STR, "return_url": STR,
                                                        "configuration": STR, "locale": STR,
                                                        "flow_data": "any", "on_behalf_of": STR})
    def create_portal_session(sb, p):
        st = sb.store
        st.get(p["customer"], "customer", "customer")
        session = st.add(catalog.portal_session(created=st.now(p["customer"]), customer=p["customer"],
                                                return_url=p.get("return_url"), url_base=st.public_url,
                                                configuration=p.get("configuration"), locale=p.get("locale")))
        st.emit("billing_portal.session.created", session)
        return session
