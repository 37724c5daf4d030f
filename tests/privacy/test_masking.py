"""Phone numbers and emails are masked in logs and in error messages that echo input."""

from __future__ import annotations

import logging

import pytest

from core.privacy.masking_log import mask_input_echo, mask_text
from tests.conftest import Api


@pytest.mark.parametrize("raw, masked", [
    ("call 13800138000 now", "call 138****8000 now"),
    ("+86 138-0013-8000", "138****8000"),
    ("8613800138000", "138****8000"),
    ("GET /api/v1/customers?phone=%2B8613800138000 HTTP/1.1", "GET /api/v1/customers?phone=138****8000 HTTP/1.1"),
    ("mail li.lei@example.com", "mail l***@example.com"),
    ("?email=li.lei%40example.com&x=1", "?email=l***@example.com&x=1"),
    ("uk +442071838750", "uk +44********50"),
    ("order 2026-11-23 total 1200.00 id 42", "order 2026-11-23 total 1200.00 id 42"),
])
def test_mask_text(raw, masked):
    assert mask_text(raw) == masked


def test_error_echo_masks_any_long_run_of_digits():
    assert mask_input_echo("not a valid phone number: 1380013800") == "not a valid phone number: 138*****00"
    assert "2026-11-23" in mask_input_echo("date 2026-11-23 is in the future")
    assert mask_input_echo("external_id till-3-000123 is used") == "external_id till-3-000123 is used"
    assert mask_input_echo("phone 138-0013-800 is short") == "phone 138*****00 is short"


def test_log_records_are_masked_whoever_logs_them(app, caplog):
    caplog.set_level(logging.INFO)
    logging.getLogger("some.library").info("customer %s with %s", "+8613912345678", "wang@example.com")
    try:
        raise ValueError("duplicate phone 13912345678")
    except ValueError:
        logging.getLogger("core.test").exception("failed for 139 1234 5678")
    text = caplog.text
    assert "13912345678" not in text.replace("139****5678", "") and "1234 5678" not in text
    assert "wang@example.com" not in text and "w***@example.com" in text
    assert "139****5678" in text


def test_error_messages_do_not_echo_a_full_phone(app, chain):
    api = Api(app.test_client())
    r = api.get("/customers?phone=1391234567", token=chain.staff_token)  # one digit short
    assert r.status_code == 400
    assert "1391234567" not in r.get_data(as_text=True)
    r = api.post("/customers", {"name": "x", "phone": "139123456789"}, token=chain.staff_token)
    assert r.status_code == 400
    assert "139123456789" not in r.get_data(as_text=True)
    assert r.headers["X-Content-Type-Options"] == "nosniff"
