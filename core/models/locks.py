from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.models.types import UTCDateTime


class JobLock(db.Model):
    """Who runs a long job right now (one row per job name), on SQLite; see `core.locks`.

    PostgreSQL uses an advisory lock instead, which dies with its connection."""

    __tablename__ = "job_lock"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))  # host:pid of the process that runs it
    job_id: Mapped[str | None] = mapped_column(String(200))  # the rq job, when it runs under rq
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
