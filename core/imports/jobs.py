"""Admin uploads imported in the background (architecture.md, "Background jobs").

`start_import` keeps the uploaded file under the instance folder, records an `ImportRun` and
enqueues `run_import_job` (rq with Redis, in-process without; parked in the job outbox while
Redis is down). The job is safe to run again after a worker died half-way: customers are
matched by phone or card number (a second run updates, never duplicates), sale receipts
imported before are skipped, and the rejects file is rewritten from the start."""

from __future__ import annotations

import logging
import os
import uuid

from flask import current_app
from sqlalchemy import update
from werkzeug.utils import secure_filename

from core.errors import DomainError, InvalidInput
from core.models import ImportRun, Store, User, utcnow

log = logging.getLogger(__name__)
IMPORT_FOLDER = "imports"  # under the instance folder
SUFFIXES = (".csv", ".xlsx")


def import_folder() -> str:
    folder = os.path.join(current_app.instance_path, IMPORT_FOLDER)
    os.makedirs(folder, exist_ok=True)
    return folder


def absolute(relative: str) -> str:
    return os.path.join(current_app.instance_path, relative)


def start_import(session, *, kind: str, upload, store: Store, user: User | None, all_or_nothing: bool = False,
                 with_events: bool = False) -> ImportRun:
    """Save `upload` (a werkzeug FileStorage), record the run, commit, enqueue the job."""
    if kind not in ("customers", "sales"):
        raise InvalidInput("unknown import kind", fields={"kind": ["customers or sales"]})
    name = os.path.basename(upload.filename or "")
    suffix = os.path.splitext(name)[1].lower()
    if suffix not in SUFFIXES:
        raise InvalidInput("the file must be CSV or XLSX", fields={"file": ["CSV or XLSX"]})
    # A random name: two uploads of "会员.csv" must not overwrite each other.
    relative = os.path.join(IMPORT_FOLDER, f"{uuid.uuid4().hex}-{secure_filename(name) or 'upload'}")
    if not relative.endswith(suffix):
        relative += suffix
    import_folder()
    upload.save(absolute(relative))  # streamed to disk, never into the database
    try:
        run = ImportRun(store_id=store.id, user_id=user.id if user else None, kind=kind, file_name=name[:300],
                        file_path=relative, all_or_nothing=all_or_nothing, with_events=with_events, status="queued",
                        rows_done=0, created=0, updated=0, skipped=0, rejected=0, committed=False, attempts=0)
        session.add(run)
        session.flush()
        run_id = run.id
        session.commit()
    except BaseException:
        session.rollback()
        os.remove(absolute(relative))
        raise
    from core.jobs import jobs

    # The job id makes a double enqueue (outbox flushed twice) one job in Redis.
    jobs().enqueue(run_import_job, run_id, job_id=f"storecrm-import-{run_id}")
    return run


def run_import_job(import_id: int) -> str:
    """The job: import the run's file, keeping its row up to date. Returns the final status."""
    from core.extensions import db
    from core.imports.runner import run_import

    session = db.session
    run = session.get(ImportRun, import_id)
    if run is None or run.status in ("done", "failed"):
        return run.status if run else "missing"  # already finished: a duplicate delivery does nothing
    run.status, run.started_at, run.error = "running", utcnow(), None
    run.attempts = (run.attempts or 0) + 1
    run.rows_done = run.created = run.updated = run.skipped = run.rejected = 0
    session.commit()
    store, user = run.store, run.user
    kind, all_or_nothing, with_events = run.kind, run.all_or_nothing, run.with_events
    source = absolute(run.file_path)
    rejects_relative = os.path.splitext(run.file_path)[0] + ".rejected.csv"
    if os.path.exists(absolute(rejects_relative)):
        os.remove(absolute(rejects_relative))  # from a run a dead worker left behind

    def on_batch(report) -> None:
        if all_or_nothing:
            return  # the batch is not committed yet, and SQLite's one writer is this transaction
        session.execute(update(ImportRun).where(ImportRun.id == import_id)
                        .values(rows_done=report.rows, created=report.created, updated=report.updated,
                                skipped=report.skipped, rejected=report.rejected))
        session.commit()

    try:
        report = run_import(session, kind, source, store=store, all_or_nothing=all_or_nothing,
                            with_events=with_events, report_path=absolute(rejects_relative), user=user,
                            actor=user.username if user else "import", on_batch=on_batch)
    except DomainError as exc:
        session.rollback()
        # The file itself is wrong (no known columns): running it again would not help.
        detail = "; ".join(" ".join(v) if isinstance(v, list) else str(v) for v in exc.fields.values())
        _finish(session, import_id, status="failed", error=exc.message + (f" ({detail})" if detail else ""))
        return "failed"
    except Exception as exc:
        session.rollback()
        error = f"{type(exc).__name__}: {exc}"[:2000]
        rq_job = _current_rq_job()
        if rq_job is not None and (rq_job.retries_left or 0) > 0:
            # rq will run it again: queued, not failed, or the retry would find it finished.
            _finish(session, import_id, status="queued", error=error, finished_at=None)
            raise
        _finish(session, import_id, status="failed", error=error)
        log.exception("import %s failed", import_id)
        return "failed"
    _finish(session, import_id, status="done", rows_done=report.rows, created=report.created,
            updated=report.updated, skipped=report.skipped, rejected=report.rejected, committed=report.committed,
            rejects_path=rejects_relative if report.rejected and os.path.exists(absolute(rejects_relative)) else None)
    from core.audit import audit

    run = session.get(ImportRun, import_id)
    audit("import", actor=run.user, store=run.store,
          details={"import_id": import_id, **{k: v for k, v in report.as_dict().items()
                                              if k not in ("errors", "report_path")}, "file": run.file_name})
    session.commit()
    return "done"


def _finish(session, import_id: int, **values) -> None:
    values.setdefault("finished_at", utcnow())
    session.execute(update(ImportRun).where(ImportRun.id == import_id).values(**values))
    session.commit()


def _current_rq_job():
    """The rq job running this code, None in-process."""
    from rq import get_current_job

    return get_current_job()
