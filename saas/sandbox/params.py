"""Decoding and validating Stripe-style form parameters.

Stripe bodies are form-encoded with bracketed keys (`metadata[user_id]=1`,
`line_items[0][price]=price_x`, `expand[]=latest_invoice`). We decode them into nested
dicts/lists, then check them against a per-endpoint spec so unknown or missing parameters
fail exactly like Stripe does (the app's error handling is exercised against real bodies).

Spec language (kept tiny on purpose):
  {"name": STR, "!required": INT, "metadata": META, "nested": {...}, "items": [{...}], "ids": [STR],
   "mode": ("payment", "subscription"), "trial_end": TS_OR_NOW}
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl

from .errors import invalid, missing_param, unknown_param

STR, INT, BOOL, META, ANY, TS_OR_NOW, NUM = "str", "int", "bool", "meta", "any", "ts_or_now", "num"

_SEG = re.compile(r"\[([^\]]*)\]")


def _split(key: str) -> list[str]:
    head = key.split("[", 1)[0]
    return [head] + _SEG.findall(key[len(head):])


def decode_pairs(pairs) -> dict:
    root: dict = {}
    for key, value in pairs:
        segs = _split(key)
        node = root
        for i, seg in enumerate(segs):
            last = i == len(segs) - 1
            if seg == "":  # `a[]` appends
                seg = str(len(node))
            if last:
                node[seg] = value
            else:
                nxt = node.get(seg)
                if not isinstance(nxt, dict):
                    nxt = node[seg] = {}
                node = nxt
    return _listify(root, under_meta=False)


def _listify(node, under_meta: bool):
    """Dicts whose keys are all indexes become lists (except metadata, whose keys are data)."""
    if not isinstance(node, dict):
        return node
    out = {k: _listify(v, under_meta=(k == "metadata")) for k, v in node.items()}
    if not under_meta and out and all(k.isdigit() for k in out):
        return [out[k] for k in sorted(out, key=int)]
    return out


def decode_body(text: str) -> dict:
    return decode_pairs(parse_qsl(text, keep_blank_values=True))


def _coerce(name: str, value, typ):
    if isinstance(typ, tuple):  # enum
        if value not in typ:
            raise invalid(name, f"Invalid {name}: must be one of {', '.join(typ)}", "parameter_invalid_string")
        return value
    if isinstance(typ, dict):
        if value == "":
            return None
        if not isinstance(value, dict):
            raise invalid(name, f"Invalid object", "parameter_invalid_string")
        return validate(value, typ, prefix=name)
    if isinstance(typ, list):
        if value == "":
            return []
        if isinstance(value, dict):  # `a[x]` where a list was expected
            raise invalid(name, f"Invalid array", "parameter_invalid_string")
        if not isinstance(value, list):
            value = [value]
        return [_coerce(f"{name}[{i}]", v, typ[0]) for i, v in enumerate(value)]
    if typ == META:
        if value == "":
            return ""  # means "clear all metadata"
        if not isinstance(value, dict):
            raise invalid(name, "Invalid object", "parameter_invalid_string")
        return {str(k): (v if isinstance(v, str) else str(v)) for k, v in value.items()}
    if isinstance(value, (dict, list)):
        raise invalid(name, f"Invalid {typ}: expected a scalar", "parameter_invalid_string")
    if typ == INT:
        if value == "":
            return None
        try:
            return int(value)
        except ValueError:
            raise invalid(name, f"Invalid integer: {value}", "parameter_invalid_integer") from None
    if typ == NUM:
        try:
            return float(value)
        except ValueError:
            raise invalid(name, f"Invalid decimal: {value}", "parameter_invalid_string") from None
    if typ == BOOL:
        if value in ("true", "True", "1"):
            return True
        if value in ("false", "False", "0"):
            return False
        if value == "":
            return None
        raise invalid(name, f"Invalid boolean: {value}", "parameter_invalid_string")
    if typ == TS_OR_NOW:
        if value in ("now", ""):
            return value or None
        return _coerce(name, value, INT)
    return value  # STR / ANY


def validate(raw: dict, spec: dict, prefix: str = "") -> dict:
    """Return the coerced params; raise Stripe's errors for unknown/missing/invalid ones."""
    allowed = {k.lstrip("!"): v for k, v in spec.items()}
    for key in raw:
        if key not in allowed:
            raise unknown_param(f"{prefix}[{key}]" if prefix else key)
    for key in spec:
        if key.startswith("!") and raw.get(key[1:]) in (None, ""):
            name = key[1:]
            raise missing_param(f"{prefix}[{name}]" if prefix else name)
    out = {}
    for key, value in raw.items():
        name = f"{prefix}[{key}]" if prefix else key
        if allowed[key] == ANY:
            out[key] = value
        else:
            out[key] = _coerce(name, value, allowed[key])
    return out


def merge_metadata(current: dict, update) -> dict:
    """Stripe semantics: `metadata=""` clears everything, `metadata[k]=""` deletes one key."""
    if update is None:
        return current
    if update == "":
        return {}
    merged = dict(current)
    for k, v in update.items():
        if v == "":
            merged.pop(k, None)
        else:
            merged[k] = v
    return merged
