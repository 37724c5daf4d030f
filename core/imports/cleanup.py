"""Keeping the import folder small and honest (docs/privacy.md, "Imports").

- The rejected rows of a finished import are kept encrypted for `IMPORT_REJECTS_DAYS` (7)
  days, then deleted: long enough to fix and re-upload them, short enough that a customer who
  is erased does not live on in a forgotten file.
- A run still "queued" or "running" with no progress for `IMPORT_STALE_HOURS` (2) hours and
  no live rq job lost its worker for good (killed with no retries left, or an in-process run
  whose web process stopped): it is failed with a reason the page shows, and its upload deleted.
- Files no run needs any more in the instance folder (where versions before uploads were kept
  in the database put them) are deleted.

`tidy_imports_job` does all three; the core registers it with the periodic jobs (core/jobs.py).
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext
from sqlalchemy import or_, select, update

from core.imports.jobs import FILE_GONE, IMPORT_FOLDER, absolute, encrypt_file, forget_upload, remove_quietly
from core.models import ImportRun, utcnow

log = logging.getLogger(__name__)

REJECTS_DAYS = 7
STALE_HOURS = 2
WORKER_STOPPED = "the worker stopped; start the import again"


def error_text(error: str) -> str:
    """A run's error as the page shows it: the reasons set here are translated, others (the
    importer's own, about the file) shown as stored."""
    # Literal calls so that pybabel extracts them; the row keeps the English text.
    known = {WORKER_STOPPED: lambda: gettext("the worker stopped; start the import again"),
             FILE_GONE: lambda: gettext("the uploaded file is no longer there; upload it again")}
    return known[error]() if error in known else error


def setting(name: str, default: int) -> int:
    """`app.config[name]` (core/config.py reads and checks `STORECRM_<name>`), else the default."""
    return int(current_app.config.get(name, default))


def rejects_days() -> int:
    return setting("IMPORT_REJECTS_DAYS", REJECTS_DAYS)


def rejects_until(run: ImportRun) -> datetime | None:
    """Until when the run's rejected rows can be downloaded; None when it has none."""
    if not run.rejects_path or run.finished_at is None:
        return None
    return run.finished_at + timedelta(days=rejects_days())


def rejects_available(run: ImportRun, now: datetime | None = None) -> bool:
    from core.imports import stored

    until = rejects_until(run)
    if until is None or (now or utcnow()) >= until:
        return False
    return stored.in_database(run.rejects_path) or os.path.exists(absolute(run.rejects_path))


def purge_expired_rejects(session, *, now: datetime | None = None) -> int:
    """Delete rejects files older than the retention; encrypt plaintext ones older versions left.

    Returns how many were deleted. Commits: each file deleted is forgotten in the same step."""
    from core.imports import stored

    now = now or utcnow()
    cutoff = now - timedelta(days=rejects_days())
    runs = session.execute(select(ImportRun.id, ImportRun.rejects_path, ImportRun.finished_at)
                           .where(ImportRun.rejects_path.is_not(None))).all()
    purged = 0
    for run_id, path, finished_at in runs:  # only runs with rejects still kept: a week's worth
        if finished_at is None or finished_at < cutoff:
            if stored.in_database(path):
                stored.delete_part(session, run_id, "rejects")
            else:
                remove_quietly(path)
            session.execute(update(ImportRun).where(ImportRun.id == run_id).values(rejects_path=None))
            purged += 1
        elif not stored.in_database(path) and not path.endswith(".enc") and os.path.exists(absolute(path)):
            encrypted = encrypt_file(path)
            session.execute(update(ImportRun).where(ImportRun.id == run_id).values(rejects_path=encrypted))
            remove_quietly(path)
        session.commit()
    return purged


def reap_stale_runs(session, *, now: datetime | None = None) -> list[int]:
    """Fail queued/running runs silent for longer than `IMPORT_STALE_HOURS` with no live rq job."""
    now = now or utcnow()
    cutoff = now - timedelta(hours=setting("IMPORT_STALE_HOURS", STALE_HOURS))
    last_sign = ImportRun.progress_at
    stale = session.execute(select(ImportRun.id, ImportRun.file_path).where(
        ImportRun.status.in_(("queued", "running")),
        or_(last_sign < cutoff, last_sign.is_(None) & (ImportRun.created_at < cutoff)),
    )).all()
    reaped = []
    for run_id, file_path in stale:
        if _rq_job_alive(run_id):
            continue
        # Only if still silent: the job may have moved on since the select.
        result = session.execute(update(ImportRun).where(
            ImportRun.id == run_id, ImportRun.status.in_(("queued", "running")),
            or_(ImportRun.progress_at < cutoff, ImportRun.progress_at.is_(None)),
        ).values(status="failed", error=WORKER_STOPPED, finished_at=now, progress_at=now))
        if result.rowcount:
            forget_upload(session, run_id, file_path)
        session.commit()
        if result.rowcount:
            log.warning("import %s had no progress since %s and no live job: marked failed", run_id, cutoff)
            reaped.append(run_id)
    return reaped


def delete_leftover_files(session, *, now: datetime | None = None) -> int:
    """Delete files in the import folder that no run needs any more: uploads of finished runs
    (a crash between the last commit and the delete, older versions that kept them) and
    rejects files no row points to. Lists the folder, not the table (which only grows).

    Files younger than an hour are left: an upload is saved before its row is committed."""
    folder = os.path.join(current_app.instance_path, IMPORT_FOLDER)
    if not os.path.isdir(folder):
        return 0
    active = session.scalars(select(ImportRun.file_path).where(ImportRun.status.in_(("queued", "running")))).all()
    kept = {os.path.basename(p) for p in active}
    kept |= {os.path.basename(os.path.splitext(p)[0] + ".rejected.csv") for p in active}  # being written
    kept |= {os.path.basename(p) for p in session.scalars(select(ImportRun.rejects_path)
                                                          .where(ImportRun.rejects_path.is_not(None)))}
    young = (now or utcnow()).timestamp() - 3600
    deleted = 0
    for entry in os.scandir(folder):
        if entry.is_file() and entry.name not in kept and entry.stat().st_mtime < young:
            os.remove(entry.path)
            deleted += 1
    return deleted


def _rq_job_alive(run_id: int) -> bool:
    """Whether rq still holds the run's job as waiting or being worked on by a living worker."""
    from core.extensions import db
    from core.jobs import jobs
    from core.models import JobOutbox

    job_id = f"storecrm-import-{run_id}"
    if db.session.scalar(select(JobOutbox.id).where(JobOutbox.job_id == job_id).limit(1)) is not None:
        return True  # parked while Redis was down: handed over when it is back
    queue = jobs()
    if not queue.uses_redis:
        return False  # in-process: the run died with the process that ran it
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus
    from rq.worker import Worker

    try:
        job = Job.fetch(job_id, connection=queue.connection())
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=True)
    if status in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED):
        return True
    if status == JobStatus.STARTED and job.worker_name:
        # A worker's key expires shortly after its last heartbeat: gone means the worker died.
        return Worker.find_by_key(Worker.redis_worker_namespace_prefix + job.worker_name,
                                  connection=queue.connection()) is not None
    return False


def tidy_imports_job() -> None:
    """The periodic job (every 10 minutes): reap, purge expired rejects, delete leftover uploads."""
    from core.extensions import db

    reap_stale_runs(db.session)
    purge_expired_rejects(db.session)
    delete_leftover_files(db.session)
