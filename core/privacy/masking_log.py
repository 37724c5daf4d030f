"""Personal data never leaves through logs or error messages.

Log records are masked as they are made (a log-record factory, so every handler and every
library logger is covered), and API error bodies are masked before they are sent: an error
that echoes what a clerk typed shows 138****8000, not the number."""

from __future__ import annotations

import logging
import re
import unicodedata
from urllib.parse import unquote

from core.services.phones import mask_email

# A mainland mobile in any common spelling: 13800138000, +86 138-0013-8000, 86 138 0013 8000.
# (%2B is "+" in a logged query string: ?phone=%2B8613800138000)
_CN_MOBILE = re.compile(r"(?<![\w+])(?:(?:\+|%2[bB])?\s*86[\s-]*)?(1[3-9]\d)[\s-]*(\d{4})[\s-]*(\d{4})(?!\d)")
# Any other international number written in E.164 (+4420...) and long runs of digits.
_E164 = re.compile(r"\+\d{7,15}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+")
# Not inside codes like till-3-000123 or decimals like 1200.00.
_DIGITS = re.compile(r"(?<![\w-])(?<!\d\.)\d(?:[ -]?\d){6,}(?![\w-]|\.\d)")


def mask_text(text: str) -> str:
    """Mask every phone number and email address inside free text, also when typed in
    fullwidth digits or percent-encoded in a logged URL: the text is read normalised
    (NFKC, %XX decoded), and when that reading holds personal data it is the one kept, masked."""
    if not text:
        return text
    masked = _mask(text)
    normal = _normalise(masked)
    if normal != masked:
        again = _mask(normal)
        if again != normal:
            return again
    return masked


def _normalise(text: str) -> str:
    if "%" in text:
        text = unquote(text)
    return unicodedata.normalize("NFKC", text)


def _mask(text: str) -> str:
    text = _EMAIL.sub(lambda m: mask_email(m.group(0).replace("%40", "@")), text)
    text = _CN_MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    text = _E164.sub(lambda m: m.group(0)[:3] + "*" * (len(m.group(0)) - 5) + m.group(0)[-2:], text)
    return text


def mask_input_echo(text: str) -> str:
    """Stricter, for error messages that echo input: any run of 7+ digits is masked too,
    since an invalid phone number is still mostly someone's phone number."""
    text = mask_text(text)
    return _DIGITS.sub(lambda m: _keep_ends(m.group(0)), text)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _keep_ends(value: str) -> str:
    if _ISO_DATE.fullmatch(value):
        return value
    digits = [c for c in value if c.isdigit()]
    return "".join(digits[:3]) + "*" * max(len(digits) - 5, 1) + "".join(digits[-2:])


class PersonalDataFilter(logging.Filter):
    """A logging filter (for handlers configured by hand) that masks the formatted message."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


def mask_record(record: logging.LogRecord) -> None:
    if getattr(record, "_storecrm_masked", False):
        return
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken format string is logged as it is
        return
    masked = mask_text(message)
    if masked != message:
        record.msg, record.args = masked, ()
    if record.exc_info and not record.exc_text:
        record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = mask_text(record.exc_text)
    record._storecrm_masked = True


_installed = False


def install_log_masking() -> None:
    """Mask every log record of this process as it is created (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        mask_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def install_error_masking(app) -> None:
    """Mask phone numbers and emails in every API error body, whoever asked."""
    from core.api.http import API_PREFIX

    @app.after_request
    def _mask_error_body(response):
        from flask import request

        if request.path.startswith(API_PREFIX):
            # JSON is data, never markup: browsers must not sniff it into HTML.
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.status_code < 400 or not response.is_json or response.direct_passthrough:
            return response
        import json

        try:
            body = json.loads(response.get_data(as_text=True))
        except ValueError:
            return response
        # Inside the JSON's strings only: a number (a points figure) stays a valid JSON number.
        masked = _mask_strings(body)
        if masked != body:
            response.set_data(json.dumps(masked, ensure_ascii=False) + "\n")
        return response


def _mask_strings(value):
    if isinstance(value, str):
        return mask_input_echo(value)
    if isinstance(value, list):
        return [_mask_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: _mask_strings(v) for k, v in value.items()}
    return value
