"""Admin uploads imported in the background.

`start_import` keeps the uploaded file in the database, encrypted with the data key
(core/imports/stored.py: any worker on any host reads it), records an `ImportRun` and
enqueues `run_import_job` (rq with Redis, in-process without; parked in the job outbox while
Redis is down). The job is safe to run again after a worker died half-way: customers are
matched by phone or card number (a second run updates, never duplicates), sale receipts
imported before are skipped, and the rejects file is rewritten from the start.

The upload holds names, phones and emails, so it is never on disk in clear but in the
worker's private folder while it runs, and deleted as soon as the run has finished (done, or
failed for good); the rejected rows are kept encrypted with the data key and purged after a
few days (core/imports/cleanup.py)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile

from flask import current_app
from sqlalchemy import update

from core.errors import DomainError, InvalidInput
from core.models import ImportRun, Store, User, utcnow

log = logging.getLogger(__name__)
IMPORT_FOLDER = "imports"  # under the instance folder
SUFFIXES = (".csv", ".xlsx")
FILE_GONE = "the uploaded file is no longer there; upload it again"


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
    from core.imports import stored

    try:
        run = ImportRun(store_id=store.id, user_id=user.id if user else None, kind=kind, file_name=name[:300],
                        file_path=stored.PREFIX + "upload" + suffix, all_or_nothing=all_or_nothing,
                        with_events=with_events, status="queued", rows_done=0, created=0, updated=0, skipped=0,
                        rejected=0, committed=False, attempts=0, progress_at=utcnow())
        session.add(run)
        session.flush()
        run_id = run.id
        stored.save_stream(session, run_id, "upload", upload.stream)  # encrypted, in the run's transaction
        session.commit()
    except BaseException:
        session.rollback()
        raise
    from core.jobs import jobs

    # The job id makes a double enqueue (outbox flushed twice) one job in Redis.
    jobs().enqueue(run_import_job, run_id, job_id=f"storecrm-import-{run_id}")
    return run


def run_import_job(import_id: int) -> str:
    """The job: import the run's file, keeping its row up to date. Returns the final status."""
    from core.extensions import db

    session = db.session
    run = session.get(ImportRun, import_id)
    if run is None or run.status in ("done", "failed"):
        return run.status if run else "missing"  # already finished: a duplicate delivery does nothing
    run.status, run.started_at, run.progress_at, run.error = "running", utcnow(), utcnow(), None
    run.attempts = (run.attempts or 0) + 1
    run.rows_done = run.created = run.updated = run.skipped = run.rejected = 0
    session.commit()
    # This process's own folder (mode 0700) for the clear copy the reader needs and the rejects
    # being written; removed whatever happens, and a killed worker's is in its host's temp dir.
    workdir = tempfile.mkdtemp(prefix="storecrm-import-")
    try:
        return _run(session, run, import_id, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(session, run: ImportRun, import_id: int, workdir: str) -> str:
    from core.imports import stored
    from core.imports.runner import run_import

    store, user = run.store, run.user
    kind, all_or_nothing, with_events = run.kind, run.all_or_nothing, run.with_events
    run_file_path = run.file_path
    plain_rejects = os.path.join(workdir, "rejected.csv")
    if stored.in_database(run_file_path):
        source = os.path.join(workdir, "upload" + os.path.splitext(run_file_path)[1])
        there = stored.has_part(session, import_id, "upload")
        if there:
            stored.write_to(session, import_id, "upload", source)
    else:  # a run queued by an older version, its upload under the instance folder
        source = absolute(run_file_path)
        there = os.path.exists(source)
    if not there:
        # Deleted when an earlier delivery finished it, or by the reaper: nothing left to import.
        _finish(session, import_id, status="failed", error=FILE_GONE)
        return "failed"

    def on_batch(report) -> None:
        if all_or_nothing:
            return  # the batch is not committed yet, and SQLite's one writer is this transaction
        session.execute(update(ImportRun).where(ImportRun.id == import_id)
                        .values(rows_done=report.rows, created=report.created, updated=report.updated,
                                skipped=report.skipped, rejected=report.rejected, progress_at=utcnow()))
        session.commit()

    try:
        report = run_import(session, kind, source, store=store, all_or_nothing=all_or_nothing,
                            with_events=with_events, report_path=plain_rejects, user=user,
                            actor=user.username if user else "import", on_batch=on_batch)
    except DomainError as exc:
        session.rollback()
        # The file itself is wrong (no known columns): running it again would not help.
        detail = "; ".join(" ".join(v) if isinstance(v, list) else str(v) for v in exc.fields.values())
        forget_upload(session, import_id, run_file_path)
        _finish(session, import_id, status="failed", error=exc.message + (f" ({detail})" if detail else ""))
        return "failed"
    except Exception as exc:
        session.rollback()
        error = f"{type(exc).__name__}: {exc}"[:2000]
        rq_job = _current_rq_job()
        if rq_job is not None and (rq_job.retries_left or 0) > 0:
            # rq will run it again: queued, not failed, or the retry would find it finished.
            _finish(session, import_id, status="queued", error=error, finished_at=None)
            raise  # the upload stays: the retry reads it
        forget_upload(session, import_id, run_file_path)
        _finish(session, import_id, status="failed", error=error)
        log.exception("import %s failed", import_id)
        return "failed"
    rejects_path = None
    if report.rejected and os.path.exists(plain_rejects):
        rejects_path = stored.save_file(session, import_id, "rejects", plain_rejects)
    forget_upload(session, import_id, run_file_path)
    # One commit: the counts, the rejects kept and the upload deleted.
    _finish(session, import_id, status="done", rows_done=report.rows, created=report.created,
            updated=report.updated, skipped=report.skipped, rejected=report.rejected, committed=report.committed,
            rejects_path=rejects_path)
    from core.audit import audit

    run = session.get(ImportRun, import_id)
    audit("import", actor=run.user, store=run.store,
          details={"import_id": import_id, **{k: v for k, v in report.as_dict().items()
                                              if k not in ("errors", "report_path")}, "file": run.file_name})
    session.commit()
    return "done"


def forget_upload(session, import_id: int, file_path: str) -> None:
    """Delete the run's upload: its chunks in the caller's transaction (or an older version's file)."""
    from core.imports import stored

    if stored.in_database(file_path):
        stored.delete_part(session, import_id, "upload")
    else:
        remove_quietly(file_path, os.path.splitext(file_path)[0] + ".rejected.csv")


def remove_quietly(*relatives: str) -> None:
    """Delete files under the instance folder; one already gone is fine."""
    for relative in relatives:
        try:
            os.remove(absolute(relative))
        except FileNotFoundError:
            pass


def encrypt_file(plain_relative: str) -> str:
    """Encrypt a rejects CSV with the data key into `<name>.enc` (mode 0600); returns its path.

    The plaintext is the caller's to delete. The file is small (line, column, reason per
    rejected row), so it is encrypted in one piece."""
    from core.crypto import cipher

    with open(absolute(plain_relative), encoding="utf-8-sig") as plain:
        token = cipher().encrypt(plain.read())
    relative = plain_relative + ".enc"
    partial = absolute(relative) + ".part"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(token)
    os.replace(partial, absolute(relative))  # never a half-written file under the real name
    return relative


def decrypted_rejects(run: ImportRun) -> bytes:
    """The rejects CSV as downloaded (UTF-8 with BOM, so Excel reads Chinese)."""
    from core.crypto import cipher
    from core.extensions import db
    from core.imports import stored

    if stored.in_database(run.rejects_path):
        return stored.read(db.session, run.id, "rejects")  # as the run wrote it: with the BOM
    with open(absolute(run.rejects_path), encoding="ascii") as kept:  # kept by an older version
        return cipher().decrypt(kept.read()).encode("utf-8-sig")


def _finish(session, import_id: int, **values) -> None:
    values.setdefault("finished_at", utcnow())
    values.setdefault("progress_at", utcnow())
    session.execute(update(ImportRun).where(ImportRun.id == import_id).values(**values))
    session.commit()


def _current_rq_job():
    """The rq job running this code, None in-process."""
    from rq import get_current_job

    return get_current_job()
