"""Validation messages as a person reads them: the services and marshmallow speak English
(the API's error shape keeps it), the admin shows each message through the catalogue. Known
messages — marshmallow's defaults, the phone check, "Already in use." — are matched with their
figures; anything else is shown as it came."""

from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

_NUMBER = r"(-?[\d.,]+)"
# (pattern of the English message, its translation with the pattern's groups as %(a)s, %(b)s)
PATTERNS = [  # English msgids are the messages as they come, so an English page reads as before.
    (r"Missing data for required field\.", _l("Missing data for required field.")),
    (r"Field may not be null\.", _l("Field may not be null.")),
    (r"Unknown field\.", _l("Unknown field.")),
    (r"Invalid input type\.", _l("Invalid input type.")),
    (r"Not a valid integer\.", _l("Not a valid integer.")),
    (r"Not a valid number\.", _l("Not a valid number.")),
    (r"Not a valid decimal\.", _l("Not a valid decimal.")),
    (r"Not a valid string\.", _l("Not a valid string.")),
    (r"Not a valid boolean\.", _l("Not a valid boolean.")),
    (r"Not a valid date\.", _l("Not a valid date.")),
    (r"Not a valid datetime\.", _l("Not a valid datetime.")),
    (r"Not a valid email address\.", _l("Not a valid email address.")),
    (r"Not a valid list\.", _l("Not a valid list.")),
    (r"Not a valid mapping type\.", _l("Not a valid mapping type.")),
    (r"Not a valid phone number: (.*?)\.", _l("Not a valid phone number: %(a)s.")),
    (r"not a valid phone number: (.*)", _l("not a valid phone number: %(a)s")),
    (r"Not a phone number \(letters\): (.*?)\.", _l("Not a phone number (letters): %(a)s.")),
    (r"Not a phone number: (.*?)\.", _l("Not a phone number: %(a)s.")),
    (r"Phone number is empty\.", _l("Phone number is empty.")),
    (r"Not a date: (.*?)\.", _l("Not a date: %(a)s.")),
    (r"Not a real date: (.*?)\.", _l("Not a real date: %(a)s.")),
    (r"Year out of range: (.*?)\.", _l("Year out of range: %(a)s.")),
    (r"Unknown store (.*?)\.", _l("Unknown store %(a)s.")),
    (r"Already in use\.", _l("Already in use.")),
    (rf"Must be greater than or equal to {_NUMBER} and less than or equal to {_NUMBER}\.",
     _l("Must be greater than or equal to %(a)s and less than or equal to %(b)s.")),
    (rf"Must be greater than or equal to {_NUMBER}\.", _l("Must be greater than or equal to %(a)s.")),
    (rf"Must be less than or equal to {_NUMBER}\.", _l("Must be less than or equal to %(a)s.")),
    (rf"Must be greater than {_NUMBER}\.", _l("Must be greater than %(a)s.")),
    (rf"Must be less than {_NUMBER}\.", _l("Must be less than %(a)s.")),
    (rf"Shorter than minimum length {_NUMBER}\.", _l("Shorter than minimum length %(a)s.")),
    (rf"Longer than maximum length {_NUMBER}\.", _l("Longer than maximum length %(a)s.")),
    (rf"Length must be between {_NUMBER} and {_NUMBER}\.", _l("Length must be between %(a)s and %(b)s.")),
    (rf"Length must be {_NUMBER}\.", _l("Length must be %(a)s.")),
    (r"Must be one of: (.*)\.", _l("Must be one of: %(a)s.")),
    (rf"only {_NUMBER} points available", _l("only %(a)s points available")),
    (r"Use HH:MM, 24-hour\.", _l("Use HH:MM, 24-hour.")),  # core.api.fields.TimeOfDay
    (r"Out of range\.", _l("Out of range.")),  # core.api.fields.Timestamp
    (r"Must be between 2000-01-01 and 2100-01-01\.", _l("Must be between 2000-01-01 and 2100-01-01.")),
]
_COMPILED = [(re.compile(pattern + r"\Z"), text) for pattern, text in PATTERNS]


def translate(message) -> str:
    """One message in the page's language (unknown messages unchanged)."""
    text = str(message)
    for pattern, translation in _COMPILED:
        found = pattern.match(text)
        if found:
            groups = dict(zip("abc", found.groups()))
            return _(translation._args[0], **groups) if groups else str(translation)
    return _(text)  # a message that is itself a msgid of some catalogue


def translate_fields(fields) -> dict:
    """`{"phone": ["Not a valid phone number: x."]}` with every message translated (nested too)."""
    if not isinstance(fields, dict):
        return fields
    out = {}
    for key, value in fields.items():
        if isinstance(value, dict):
            out[key] = translate_fields(value)
        elif isinstance(value, (list, tuple)):
            out[key] = [translate(v) if isinstance(v, str) else v for v in value]
        else:
            out[key] = translate(value) if isinstance(value, str) else value
    return out


def init_app(app) -> None:
    app.add_template_filter(translate, "storecrm_message")


def describe(exc) -> str:
    """A DomainError for a flash message: its message, then its field reasons (they say what
    to fix), each translated."""
    fields = getattr(exc, "fields", None) or {}
    reasons = [translate(m) for msgs in fields.values() for m in (msgs if isinstance(msgs, (list, tuple)) else [msgs])
               if isinstance(m, str)]
    message = translate(getattr(exc, "message", None) or str(exc))
    detail = "; ".join(dict.fromkeys(reasons))
    return f"{message} — {detail}" if detail else message
