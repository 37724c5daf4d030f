"""Input fields with the bounds a shop's data lives in (api.md): money that fits
`Numeric(12,2)` with at most 2 decimals (more is refused, never rounded), times between
2000 and the far future that convert to UTC, ids that fit the database, text that is more
than blanks, free-form objects of a bounded size, and a time of day ("HH:MM") for settings."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import datetime, timezone
from decimal import Decimal

from marshmallow import ValidationError, fields, validate

from core.services.sale_bounds import EARLIEST, MONEY_MAX

LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)
ID_MAX = 2**31 - 1
OBJECT_MAX_CHARS = 2000  # a payment's or an adjustment's `data`, a product's attributes, as JSON

# Characters that print as nothing: a name made only of these (and spaces) is no name.
INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e"}


class Decimals(fields.Decimal):
    """A decimal with at most `places` decimals: 1.005 as money is a 400, not 1.00."""

    def __init__(self, *, places: int, **kwargs):
        kwargs.setdefault("allow_nan", False)
        super().__init__(places=places, **kwargs)
        self.most_places = places

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if self.as_string and not isinstance(value, str):
            # Money is a decimal string on the wire (as documented): a JSON number may already
            # have lost its cents to binary floating point on the way.
            raise ValidationError('Send money as a decimal string, e.g. "28.00".')
        try:
            raw = Decimal(str(value)) if not isinstance(value, float) else Decimal(repr(value))
        except Exception:  # noqa: BLE001 - marshmallow says "Not a valid number." below
            raw = None
        if raw is not None and raw.is_finite():
            if raw.adjusted() > 15:  # first: quantizing a huge value overflows the context
                raise ValidationError("Too large.")
            try:
                rounded = raw.quantize(Decimal(1).scaleb(-self.most_places))
            except ArithmeticError:  # more digits than the context holds
                raise ValidationError(f"At most {self.most_places} decimals.") from None
            if raw.as_tuple().exponent < -self.most_places and raw != rounded:
                raise ValidationError(f"At most {self.most_places} decimals.")
        return super()._deserialize(value, attr, data, **kwargs)


def Money(**kwargs):  # noqa: N802 - reads as a field type
    """Money as a decimal string ("28.00"), within Numeric(12,2) unless a narrower Range is given."""
    kwargs.setdefault("validate", validate.Range(min=-MONEY_MAX, max=MONEY_MAX))
    return Decimals(places=2, as_string=True, **kwargs)


class Timestamp(fields.AwareDateTime):
    """An aware datetime, returned in UTC, between 2000 and 2100: a time whose UTC value a
    database cannot hold (year 9999 at -12:00) is a 400, not a 500."""

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            moment = moment.astimezone(timezone.utc)
        except (OverflowError, ValueError) as exc:
            raise ValidationError("Out of range.") from exc
        if not EARLIEST <= moment < LATEST:
            raise ValidationError("Must be between 2000-01-01 and 2100-01-01.")
        return moment


class Id(fields.Integer):
    """A row id: a whole number that fits the database's integer (bigger ones are no id)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("strict", True)
        kwargs.setdefault("validate", validate.Range(min=1, max=ID_MAX))
        super().__init__(**kwargs)


def not_blank(value: str) -> None:
    """Refuse text made only of spaces and invisible characters."""
    if not any(not ch.isspace() and ch not in INVISIBLE and unicodedata.category(ch) not in ("Cf", "Cc")
               for ch in value):
        raise ValidationError("Must contain visible characters.")


def Name(**kwargs):  # noqa: N802
    size = validate.Length(min=1, max=kwargs.pop("max", 200))
    return fields.String(validate=[size, not_blank], **kwargs)


def bounded_object(max_chars: int = OBJECT_MAX_CHARS):
    def check(value: dict) -> None:
        if len(json.dumps(value, ensure_ascii=False, default=str)) > max_chars:
            raise ValidationError(f"At most {max_chars} characters as JSON.")
    return check


def SmallObject(**kwargs):  # noqa: N802
    """A free-form JSON object (a payment's `data`) of at most OBJECT_MAX_CHARS."""
    return fields.Dict(validate=bounded_object(kwargs.pop("max_chars", OBJECT_MAX_CHARS)), **kwargs)


class TimeOfDay(fields.String):
    """A local time of day, "HH:MM" on the 24-hour clock: a store's daily job time
    (`scheduler.store_daily`), quiet hours. The admin shows the message in the page's language."""

    PATTERN = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
    default_error_messages = {"time_of_day": "Use HH:MM, 24-hour."}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not self.PATTERN.fullmatch(text):
            raise self.make_error("time_of_day")
        return text
