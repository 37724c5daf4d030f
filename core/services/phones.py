"""Phone numbers as customers type them, normalised to E.164 (CN by default)."""

from __future__ import annotations

import unicodedata

import phonenumbers

from core.errors import InvalidInput


def normalise_phone(raw: str, region: str = "CN") -> str:
    """`138 0013 8000`, `+86 138-0013-8000` and `8613800138000` all give `+8613800138000`."""
    # Fullwidth digits (１３８…) and ideographic spaces, as a Chinese keyboard types them.
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text:
        raise InvalidInput("phone is empty", fields={"phone": ["Phone number is empty."]})
    if any(ch.isalpha() for ch in text):
        # phonenumbers reads letters as a keypad's (13800abcdef -> 13800222333): refuse them.
        raise InvalidInput(f"not a phone number: {raw}", fields={"phone": [f"Not a phone number (letters): {raw}."]})
    digits = "".join(ch for ch in text if ch.isdigit())
    # A mainland mobile typed with the country code but without "+" (8613811112222).
    if not text.startswith("+") and digits.startswith("86") and len(digits) == 13:
        text = "+" + digits
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(f"not a phone number: {raw}", fields={"phone": [f"Not a phone number: {raw}."]}) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(f"not a valid phone number: {raw}", fields={"phone": [f"Not a valid phone number: {raw}."]})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def try_normalise_phone(raw: str, region: str = "CN") -> str | None:
    try:
        return normalise_phone(raw, region)
    except InvalidInput:
        return None


def national(e164: str) -> str:
    """`+8613800138000` → `13800138000`, as staff read it."""
    number = phonenumbers.parse(e164)
    return phonenumbers.national_significant_number(number)


def mask_phone(e164: str | None) -> str | None:
    """`138****8000`: enough to confirm a customer at the counter, not to call them."""
    if not e164:
        return None
    nat = national(e164)
    if len(nat) <= 4:
        return "*" * len(nat)
    keep_head = 3 if len(nat) >= 10 else 1
    return nat[:keep_head] + "*" * (len(nat) - keep_head - 4) + nat[-4:]


def mask_email(email: str | None) -> str | None:
    if not email:
        return None
    local, _, domain = email.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"
