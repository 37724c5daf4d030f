from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from core.extensions import db
from core.models.store import Store
from core.models.types import UTCDateTime, utcnow

ROLES = ("owner", "manager", "staff")
ROLE_RANK = {"staff": 1, "manager": 2, "owner": 3}

user_store = Table(
    "user_store",
    db.metadata,
    Column("user_id", ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Column("store_id", ForeignKey("store.id", ondelete="CASCADE"), primary_key=True),
)


class User(db.Model):
    """A member of staff: logs into the admin, is named as salesperson on sales."""

    __tablename__ = "user_account"
    __config_record__ = True  # cached per process (core/config_cache.py)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16), default="staff")
    locale: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    stores: Mapped[list[Store]] = relationship(secondary=user_store)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def at_least(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def can_access_store(self, store_id: int) -> bool:
        return self.role == "owner" or any(s.id == store_id for s in self.stores)

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class ApiToken(db.Model):
    """A bearer token for a till (store token) or a person (user token); only its hash is kept."""

    __tablename__ = "api_token"
    __config_record__ = True  # cached per process (core/config_cache.py)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    store: Mapped[Store | None] = relationship()
    user: Mapped[User | None] = relationship()

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def issue(cls, name: str, store: Store | None = None, user: User | None = None) -> tuple["ApiToken", str]:
        """A new token row and the raw token, which is shown once and never stored."""
        if (store is None) == (user is None):
            raise ValueError("a token belongs to exactly one store or one user")
        raw = "scrm_" + secrets.token_urlsafe(32)
        token = cls(name=name, prefix=raw[:12], token_hash=cls.hash(raw), store=store, user=user)
        return token, raw

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None
