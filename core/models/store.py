from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from decimal import Decimal

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, Numeric, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.models.types import UTCDateTime, utcnow


class Store(db.Model):
    __tablename__ = "store"
    __config_record__ = True  # cached per process (core/config_cache.py)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    address: Mapped[str | None] = mapped_column(String(500))
    # The largest line discount a till or staff member (a manager) may type, as a percent of the
    # line at catalogue price: a `discount` or a unit price below the catalogue's. None: no limit.
    # Owners are never limited. Plugins' adjustments are not line discounts: they are computed.
    staff_discount_limit_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2), nullable=True)
    manager_discount_limit_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # How far ahead of now a sale's time may be (a till's clock running fast); api.md bounds.
    sale_clock_ahead_minutes: Mapped[int] = mapped_column(Integer, default=1440, server_default="1440")
    # A test store (sandbox) for integrators and training: its data stays out of chain figures
    # and other stores' campaigns, and an owner may reset it (core/sandbox.py).
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    plugins: Mapped[list["StorePlugin"]] = relationship(back_populates="store", cascade="all, delete-orphan")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, moment: datetime) -> datetime:
        """A stored UTC time as the store's wall clock shows it."""
        return moment.astimezone(self.tz)

    def __repr__(self) -> str:
        return f"<Store {self.code}>"


class StorePlugin(db.Model):
    """Whether a plugin is switched on in a store, and its settings there."""

    __tablename__ = "store_plugin"
    __config_record__ = True  # cached per process (core/config_cache.py)

    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"), primary_key=True)
    plugin: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    store: Mapped[Store] = relationship(back_populates="plugins")
