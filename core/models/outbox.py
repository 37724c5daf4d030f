from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.models.types import UTCDateTime, utcnow


class JobOutbox(db.Model):
    """A job that could not reach Redis when it was enqueued (Redis down, restarting).

    Kept in the database so it is not lost; `core.jobs.flush_outbox` hands it to Redis once
    Redis answers again (a periodic job, and each `storecrm worker` at start)."""

    __tablename__ = "job_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(300))  # the job function, module.qualname
    args: Mapped[list] = mapped_column(JSON, default=list)
    kwargs: Mapped[dict] = mapped_column(JSON, default=dict)
    job_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)  # why Redis refused it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
