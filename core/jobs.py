"""Background jobs: rq with Redis when `STORECRM_REDIS_URL` is set, in-process otherwise.

Job functions are plain importable functions that run inside an app context. Periodic jobs
are registered by plugins through `register_jobs(scheduler)` and claimed slot by slot by the
scheduler in core/scheduling.py (in each worker, or in `storecrm run` when there is no Redis,
so the demo needs only Python).
"""

from __future__ import annotations

import importlib
import logging
import os
import time

from flask import current_app, has_app_context

log = logging.getLogger(__name__)


def func_path(func) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def import_func(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


MAX_RETRIES = 3
# Which process owns each engine's pool; the importing process until a job says otherwise.
_IMPORT_PID = os.getpid()
_engine_pid: dict[int, int] = {}
_worker_app = None


def run_job(path: str, args: tuple = (), kwargs: dict | None = None):
    """What rq executes: the named function inside a fresh app context, with its own session.

    A fresh context per job (also in-process, and in a worker's forked work-horse) gives the
    job its own session and `g`, so it neither closes the caller's session nor sees a stale
    cache of which plugins a store has enabled."""
    global _worker_app
    if has_app_context():
        app = current_app._get_current_object()
    else:
        # A plain `rq worker` process: build the app from the environment, once per process.
        if _worker_app is None:
            from core.app import create_app

            _worker_app = create_app()
        app = _worker_app
    with app.app_context():
        return _run_in_context(path, args, kwargs or {})


def _run_in_context(path: str, args: tuple, kwargs: dict):
    from core.extensions import db

    # A forked rq work-horse must not reuse the parent's pooled connections (SQLAlchemy's
    # advice for os.fork: drop the inherited pool without closing the parent's sockets).
    engine = db.engine
    if _engine_pid.get(id(engine), _IMPORT_PID) != os.getpid():
        engine.dispose(close=False)
    _engine_pid[id(engine)] = os.getpid()
    from core.scheduling import RUN_PERIODIC

    if path == RUN_PERIODIC:  # it logs under the periodic job's own name, slot and scope
        try:
            return import_func(path)(*args, **kwargs)
        finally:
            db.session.remove()
    _log_retry(path)
    log.info("job %s started", path)
    began = time.monotonic()
    try:
        result = import_func(path)(*args, **kwargs)
    except Exception:
        log.exception("job %s failed after %.2f s", path, time.monotonic() - began)
        raise
    finally:
        db.session.remove()
    log.info("job %s finished: ok in %.2f s", path, time.monotonic() - began)
    return result


def _log_retry(path: str) -> None:
    """Say so when this is not an rq job's first attempt: an earlier one failed, or its worker
    died and rq picked the orphaned job up again."""
    try:
        from rq import get_current_job

        job = get_current_job()
    except Exception:  # noqa: BLE001 - outside rq there is no current job
        return
    if job is not None and job.retries_left is not None:
        attempt = MAX_RETRIES - job.retries_left + 1
        if attempt > 1:
            log.warning("job %s (%s) runs again, attempt %d: an earlier attempt failed or its worker died",
                        path, job.id, attempt)


class JobQueue:
    """`enqueue(func, *args)`: to Redis if configured, else run now, in this process."""

    def __init__(self, app):
        self.redis_url = app.config.get("REDIS_URL")
        self.queue_name = app.config.get("QUEUE_NAME", "storecrm")
        self._redis = None

    @property
    def uses_redis(self) -> bool:
        return bool(self.redis_url)

    def connection(self):
        if self._redis is None:
            from redis import Redis

            # Short timeouts: a till's request must not hang on a Redis that is down.
            self._redis = Redis.from_url(self.redis_url, socket_connect_timeout=2, socket_timeout=10)
        return self._redis

    def queue(self):
        from rq import Queue

        return Queue(self.queue_name, connection=self.connection())

    def enqueue(self, func, *args, job_id: str | None = None, **kwargs):
        """Queue `func(*args, **kwargs)`. `job_id` makes the enqueue idempotent in Redis.

        Enqueue after committing: the job runs in its own session (at once, when there is no
        Redis) and must find what the caller wrote."""
        path = func_path(func) if callable(func) else func
        if not self.uses_redis:
            from core.extensions import db

            if has_app_context() and db.session().in_transaction():
                # In-process the job would wait on the caller's locks (SQLite) or miss its writes;
                # with rq it could run before the commit. Either way: commit, then enqueue.
                raise RuntimeError(f"commit (or roll back) the session before enqueueing {path}: the job runs "
                                   "in its own session and must see what the caller wrote")
            return run_job(path, args, kwargs)
        from redis.exceptions import ConnectionError, TimeoutError

        try:
            return self.push(path, args, kwargs, job_id)
        except (ConnectionError, TimeoutError) as exc:
            # Redis is down or restarting: park the job in the database rather than lose it
            # or fail the caller (a till's sale); flush_outbox hands it over when Redis is back.
            park_in_outbox(path, args, kwargs, job_id, exc)
            return None

    def push(self, path: str, args: tuple, kwargs: dict, job_id: str | None):
        """Put the job on the Redis queue (raises when Redis cannot be reached)."""
        from rq import Retry

        queue = self.queue()
        if job_id:
            from rq.job import Job
            from rq.exceptions import NoSuchJobError

            try:
                existing = Job.fetch(job_id, connection=self.connection())
                if existing.get_status(refresh=True) not in ("finished", "failed", "canceled", "stopped"):
                    return existing
            except NoSuchJobError:
                pass
        # Retries also re-run a job whose worker was killed mid-way (rq requeues an abandoned
        # job that has retries left), so jobs are written to be resumable and idempotent.
        return queue.enqueue(run_job, path, args, kwargs, job_id=job_id, job_timeout=3600, description=describe(path, args),
                             retry=Retry(max=MAX_RETRIES, interval=[10, 60, 300]), result_ttl=3600)


def describe(path: str, args) -> str:
    """What rq's own log lines call the job: its function (a periodic job's name), not run_job."""
    from core.scheduling import RUN_PERIODIC

    if path == RUN_PERIODIC and len(args) >= 4:
        return f"periodic job {args[3]} (run {args[0]})"
    return path


def park_in_outbox(path: str, args, kwargs, job_id: str | None, exc: Exception) -> None:
    import json

    from sqlalchemy import insert

    from core.extensions import db
    from core.models.outbox import JobOutbox

    try:
        json.dumps([list(args), dict(kwargs)])
    except TypeError:
        raise exc from None  # arguments that cannot be stored: the caller must know
    row = {"path": path, "args": list(args), "kwargs": dict(kwargs), "job_id": job_id, "error": repr(exc)[:2000]}
    log.warning("Redis unreachable, job %s kept in the outbox: %s", path, exc)
    if db.engine.dialect.name == "sqlite" and db.session().in_transaction():
        # SQLite has one writer and the caller's open transaction holds it: write in it.
        db.session.add(JobOutbox(**row))
        db.session.flush()
        return
    with db.engine.begin() as conn:  # durable now, like an enqueue to Redis would be
        conn.execute(insert(JobOutbox).values(**row))


def flush_outbox(limit: int = 500) -> int:
    """Hand parked jobs to Redis, oldest first; stop at the first refusal. Returns how many.

    At least once: a crash between the push and the commit pushes a job again, so jobs with
    side effects carry a `job_id` or check what they already did."""
    from redis.exceptions import ConnectionError, TimeoutError
    from sqlalchemy import select

    from core.extensions import db
    from core.models.outbox import JobOutbox

    queue = jobs()
    if not queue.uses_redis:
        return 0  # without Redis every job runs at once; nothing is ever parked
    stmt = select(JobOutbox).order_by(JobOutbox.id).limit(limit)
    # Two workers flushing do not double (SQLite: the locking read takes the write lock).
    stmt = stmt.with_for_update(skip_locked=True)
    sent = 0
    for row in db.session.scalars(stmt).all():
        try:
            queue.push(row.path, tuple(row.args), row.kwargs, row.job_id)
        except (ConnectionError, TimeoutError):
            break
        db.session.delete(row)
        sent += 1
    db.session.commit()
    return sent


def jobs() -> JobQueue:
    return current_app.extensions["storecrm.jobs"]


def collect_periodic_jobs(app):
    """Every periodic job: the core's, then each plugin's `register_jobs` (a `JobScheduler`)."""
    from core.events import retry_due_deliveries
    from core.scheduling import JobScheduler, prune_periodic_runs

    scheduler = JobScheduler()
    # The core's own: failed plugin deliveries are retried with backoff.
    scheduler.every(retry_due_deliveries, seconds=30, name="core.retry_deliveries")
    from core.delivery import sweep_outbox

    # Reactions after the commit that nobody delivered (a process died after its commit).
    scheduler.every(sweep_outbox, seconds=15, name="core.outbox_sweep")
    # Jobs parked while Redis was down are flushed by every scheduler tick (core/scheduling.py).
    from core.webhooks.sender import send_due_job

    # Webhook deliveries due again after their backoff (the first try follows the commit).
    scheduler.every(send_due_job, seconds=15, name="core.webhooks_send")
    from core.classification.jobs import NIGHTLY_CRON, nightly_recompute_chain, nightly_recompute_store

    # Each store at 02:15 on its own clock, the chain-wide classes at 02:15 on the chain's.
    scheduler.cron(nightly_recompute_store, NIGHTLY_CRON, name="core.classification_nightly", per_store=True)
    scheduler.cron(nightly_recompute_chain, NIGHTLY_CRON, name="core.classification_nightly_chain")
    scheduler.cron(prune_periodic_runs, "50 4 * * *", name="core.periodic_runs_prune")
    from core.privacy.retention import purge_expired_job

    scheduler.cron(purge_expired_job, "30 3 * * *", name="core.privacy_retention")  # nightly, off-peak
    from core.imports.cleanup import tidy_imports_job

    # Stuck imports failed, expired rejected-rows files and leftover uploads deleted.
    scheduler.every(tidy_imports_job, seconds=600, name="core.imports_tidy")
    app.extensions["storecrm.plugins"].call_registration("register_jobs", scheduler=scheduler)
    return scheduler

