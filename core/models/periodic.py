from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.models.types import UTCDateTime, utcnow


class PeriodicRun(db.Model):
    """One slot of one periodic job in one scope (the chain, or a store), claimed once.

    Every scheduler computes the same slots from the same schedule; the first to insert the
    row owns the run (the unique key makes a second insert a no-op), so a slot runs once
    whichever worker leads, through restarts and Redis outages (core/scheduling.py). The row
    then records the run: when it started and ended, how, and how often it was tried."""

    __tablename__ = "periodic_run"
    __table_args__ = (UniqueConstraint("job", "scope", "slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(200))  # the registered name
    scope: Mapped[str] = mapped_column(String(32))  # "chain", or "store:<id>"
    slot: Mapped[datetime] = mapped_column(UTCDateTime)  # the scheduled moment, UTC
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str] = mapped_column(String(120))  # host:pid of the scheduler
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))  # ok | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # > 1: retried, or picked up after a worker died
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
