from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.models.types import UTCDateTime, utcnow

IMPORT_STATUSES = ("queued", "running", "done", "failed")


class ImportRun(db.Model):
    """A file uploaded in the admin and imported by a background job (core/imports/jobs.py).

    The uploaded file waits under the instance folder (`file_path`, relative to it) until the
    run finishes, then it is deleted; the rejected rows are kept encrypted for a few days
    (`rejects_path`, see core/imports/cleanup.py). This row says who started it, where it
    stands and what it did."""

    __tablename__ = "import_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))  # customers | sales
    file_name: Mapped[str] = mapped_column(String(300))  # as uploaded, shown on the page
    file_path: Mapped[str] = mapped_column(String(300))  # relative to the instance folder
    all_or_nothing: Mapped[bool] = mapped_column(Boolean, default=False)
    with_events: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    rows_done: Mapped[int] = mapped_column(Integer, default=0)  # data rows read so far
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    committed: Mapped[bool] = mapped_column(Boolean, default=False)  # False after an all-or-nothing refusal
    rejects_path: Mapped[str | None] = mapped_column(String(300))  # relative; set when rows were rejected
    error: Mapped[str | None] = mapped_column(Text)  # why the run failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # > 1: a worker died and the job ran again
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Last sign of life (queued, started, a batch written): the reaper fails runs silent too long.
    progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    store = relationship("Store")
    user = relationship("User")

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")


class ImportChunk(db.Model):
    """A piece of an uploaded import file, encrypted with the data key (core/crypto.py).

    Kept in the database so a worker on any host can read the upload (no shared disk), and
    never in clear: the file holds names, phones and emails. The upload's chunks are deleted
    when the run ends; the rejected rows' (part "rejects") after the retention days."""

    __tablename__ = "import_chunk"
    __table_args__ = (UniqueConstraint("import_run_id", "part", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    import_run_id: Mapped[int] = mapped_column(ForeignKey("import_run.id", ondelete="CASCADE"))
    part: Mapped[str] = mapped_column(String(8))  # upload | rejects
    seq: Mapped[int] = mapped_column(Integer)  # 0, 1, 2... in file order
    data: Mapped[bytes] = mapped_column(LargeBinary)  # Fernet token of up to CHUNK_BYTES of the file
