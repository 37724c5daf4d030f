"""Reading JSON bodies safely: a body nested deeper than MAX_DEPTH, holding a string that is
not valid Unicode (a lone surrogate such as "\\ud800") or an integer beyond 64 bits is
refused as invalid JSON (a 400) before any code sees it, instead of failing deep in a
schema, the database or Python's recursion limit (a 500)."""

from __future__ import annotations

from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 32
INT_LIMIT = 2**63


class InvalidJSON(ValueError):
    pass


def check_decoded(value) -> None:
    """Walk a decoded document without recursion; raise InvalidJSON on the first bad part."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > MAX_DEPTH:
                raise InvalidJSON(f"nested deeper than {MAX_DEPTH} levels")
            for key, inner in item.items():
                stack.append((key, depth + 1))
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            if depth > MAX_DEPTH:
                raise InvalidJSON(f"nested deeper than {MAX_DEPTH} levels")
            stack.extend((inner, depth + 1) for inner in item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InvalidJSON("a string is not valid Unicode (a lone surrogate)") from exc
        elif isinstance(item, int) and not isinstance(item, bool) and not -INT_LIMIT <= item < INT_LIMIT:
            raise InvalidJSON("an integer does not fit in 64 bits")


class BoundedJSONProvider(DefaultJSONProvider):
    ensure_ascii = False
    sort_keys = False

    def loads(self, s, **kwargs):
        if isinstance(s, (bytes, bytearray)):
            try:
                s = bytes(s).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidJSON("the body is not UTF-8") from exc
        try:
            value = super().loads(s, **kwargs)
        except RecursionError as exc:
            raise InvalidJSON(f"nested deeper than {MAX_DEPTH} levels") from exc
        check_decoded(value)
        return value
