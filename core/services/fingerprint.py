"""A request's fingerprint: each top-level field's value hashed in a canonical form, so two
requests that mean the same (28.00 and "28.0", +08:00 and UTC for one instant, keys in any
order) compare equal, and two that differ name the fields that differ, without keeping what
was sent (a phone number, a name) anywhere."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timezone
from decimal import Decimal


def canonical(value):
    """`value` as plain JSON data with one spelling per meaning."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float, Decimal)):
        number = Decimal(str(value))
        return format(number.normalize(), "f") if number.is_finite() else str(number)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return str(value)


def digest(value) -> str:
    text = json.dumps(canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(data) -> dict[str, str]:
    """Top-level field -> a short hash of its canonical value (absent and null are the same).
    A body that is not an object is fingerprinted whole, under "_body"."""
    if not isinstance(data, dict):
        return {"_body": digest(data)[:16]}
    return {str(key): digest(value)[:16] for key, value in data.items() if value is not None}


def differing(first: dict, again: dict) -> list[str]:
    """The fields whose values differ between two fingerprints, sorted."""
    return sorted(key for key in set(first) | set(again) if first.get(key) != again.get(key))
