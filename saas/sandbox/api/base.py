"""Plumbing shared by every /v1 route: parameter validation, locking, expansion, lists."""
from __future__ import annotations

from functools import wraps

from flask import current_app, g, jsonify, request

from ..errors import StripeError
from ..params import INT, STR, validate
from ..util import clone


def sandbox():
    return current_app.extensions["sandbox"]


def endpoint(bp, rule: str, method: str = "GET", spec: dict | None = None, *, publishable=False,
             listing=False):
    """Register `fn(sb, params, **url_args) -> dict` as a Stripe API route.

    The body is validated against `spec` (plus `expand`, and pagination for lists), the whole
    call runs under the store lock, and the result is expanded and returned as JSON.
    """
    full = dict(spec or {})
    full["expand"] = [STR]
    if listing:
        full.update(limit=INT, starting_after=STR, ending_before=STR)
    if publishable:
        full.update(client_secret=STR, key=STR)

    def deco(fn):
        @wraps(fn)
        def view(**kwargs):
            if g.get("key_kind") == "publishable" and not publishable:
                raise StripeError("This API call cannot be made with a publishable API key. Please use a "
                                  "secret API key.", status=401, type="invalid_request_error",
                                  code="secret_key_required")
            params = validate(g.params, full)
            sb = sandbox()
            with sb.store.lock:
                sb.store.request_ctx = {"id": g.request_id, "idempotency_key": g.get("idempotency_key")}
                try:
                    result = fn(sb, params, **kwargs)
                    paths = params.get("expand") or []
                    if not paths:
                        # Nothing to expand: serialise the stored object itself, here under the
                        # lock (jsonify encodes at once), rather than a deep copy of it outside.
                        # The same bytes for a fraction of the cost of every retrieve.
                        return jsonify(result)
                    out = expand(sb.store, clone(result), paths)
                finally:
                    sb.store.request_ctx = {"id": None, "idempotency_key": None}
            return jsonify(out)

        bp.add_url_rule(rule, endpoint=f"{fn.__name__}", view_func=view, methods=[method])
        return fn

    return deco


# Fields that are not ids on the object but can be expanded into something computed.
VIRTUAL = {}


def expand(store, obj, paths: list[str]):
    for path in paths:
        _expand(store, obj, path.split("."), depth=0)
    return obj


def _expand(store, node, segs, depth):
    if depth > 4 or not segs or not isinstance(node, dict):
        return
    seg, rest = segs[0], segs[1:]
    if seg == "data" and node.get("object") == "list":
        for item in node["data"]:
            _expand(store, item, rest, depth + 1)
        return
    virtual = VIRTUAL.get((node.get("object"), seg))
    if virtual:
        node[seg] = virtual(store, node)
    elif isinstance(node.get(seg), str) and store.find(node[seg]):
        node[seg] = clone(store.find(node[seg]))
    elif isinstance(node.get(seg), list):
        node[seg] = [clone(store.find(v)) if isinstance(v, str) and store.find(v) else v for v in node[seg]]
        for v in node[seg]:
            _expand(store, v, rest, depth + 1)
        return
    # Unknown or non-expandable paths are ignored (Stripe would 400; the app never relies on it).
    _expand(store, node.get(seg), rest, depth + 1)


def paginate(items: list[dict], params: dict, url: str) -> dict:
    """Stripe cursor pagination over a newest-first list."""
    limit = max(1, min(100, params.get("limit") or 10))
    ids = [i["id"] for i in items]
    if params.get("starting_after"):
        after = params["starting_after"]
        items = items[ids.index(after) + 1:] if after in ids else []
    elif params.get("ending_before"):
        before = params["ending_before"]
        items = items[:ids.index(before)][-limit:] if before in ids else []
    page = items[:limit]
    return {"object": "list", "data": page, "has_more": len(items) > limit, "url": url}


def created_filter(items: list[dict], created) -> list[dict]:
    """`created[gte]=..` style filters (or an exact `created=..`)."""
    if created is None:
        return items
    try:
        if not isinstance(created, dict):
            return [i for i in items if i["created"] == int(created)]
        created = {k: int(v) for k, v in created.items()}
    except (TypeError, ValueError):
        raise StripeError("Invalid integer", code="parameter_invalid_integer", param="created") from None
    unknown = set(created) - {"gt", "gte", "lt", "lte"}
    if unknown:
        raise StripeError(f"Received unknown parameter: created[{unknown.pop()}]", code="parameter_unknown")
    ops = {"gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b,
           "lte": lambda a, b: a <= b}
    for op, value in created.items():
        items = [i for i in items if ops[op](i["created"], value)]
    return items


def public_url() -> str:
    return sandbox().store.public_url
