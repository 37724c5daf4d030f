"""Column types shared by every table: money as Decimal, times as aware UTC."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import DateTime, Numeric
from sqlalchemy.types import TypeDecorator

MONEY = Numeric(12, 2, asdecimal=True)
QUANTITY = Numeric(12, 3, asdecimal=True)
CENT = Decimal("0.01")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def money(value) -> Decimal:
    """Quantise anything money-like to cents (half-up, as tills round)."""
    from decimal import ROUND_HALF_UP

    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


class UTCDateTime(TypeDecorator):
    """Stored as naive UTC (SQLite has no time zones); always read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


def upsert(session, table):
    """`INSERT` that takes `ON CONFLICT …` on the session's database (PostgreSQL or SQLite)."""
    return insert_for(session.get_bind().dialect.name, table)


def insert_for(dialect: str, table):
    """`INSERT` that takes `ON CONFLICT …` on `dialect` ("postgresql" or "sqlite")."""
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
