"""The one search box of the customer lists (customers, members, the points form): a name, a
card number, a full phone number or its last four digits.

Phones are encrypted at rest: a full phone is found through its keyed hash (`phone_hash`), the
last four digits through theirs (`phone_last4_hash`); no table is ever decrypted to search it.
"""

from __future__ import annotations

from sqlalchemy import false, or_

from core.crypto import cipher
from core.models import Customer
from core.models.customer import last4_key
from core.services.phones import try_normalise_phone

LAST4_LIMIT = 10  # a pick list, not a directory: enough for the counter to tell people apart


def is_last4(q: str) -> bool:
    return len(q) == 4 and q.isdigit()


def search_clause(q: str, *, last4: bool = False):
    """A WHERE clause on `Customer` for what a person typed (scope it with `visible_customers`).
    Four digits mean the phone's last four only where `last4` is allowed: the counter lookup,
    which shows at most LAST4_LIMIT and audits the search; lists read them as a name or card."""
    q = (q or "").strip()
    if not q:
        return None
    if last4 and is_last4(q):
        return Customer.phone_last4_hash.in_(cipher().lookup_hashes(last4_key(q)))
    if sum(ch.isdigit() for ch in q) >= 7:
        phone = try_normalise_phone(q)
        if phone:
            return Customer.phone_hash.in_(cipher().lookup_hashes(phone))
        return false()
    return or_(Customer.name.ilike(f"%{q}%"), Customer.code == q, Customer.wechat_id == q)
