"""Periodic jobs, each slot run once, on the chain's or each store's clock.

Every `storecrm worker` runs a `PeriodicScheduler` thread (and `storecrm run` does without
Redis). There is no leader to elect, hand over or release: every scheduler computes the same
slots from the same schedule, and the first to insert a slot's row in `periodic_run` owns that
run (a unique key; a second insert does nothing). So a slot runs once whichever worker is
alive, through restarts, kills and Redis outages, and a slot missed while no scheduler ran is
run once when one comes back (the latest slot is claimed, never every tick that was missed).

The claim and the job's hand-over are one database transaction: the job is parked in the job
outbox with the claim and pushed to Redis from there (`core.jobs.flush_outbox`), so a Redis
outage delays a run, never loses or doubles it. The database is the one place every worker
reads; Redis only carries the work.

Schedules: `every(seconds)` slots are aligned on the epoch (UTC); `cron` expressions are read
on the chain's clock (the classification setting `chain_timezone`), or with `per_store=True`
on each store's own clock (`store.timezone`), the job then called with `store_id=`. A
`store_daily` job runs once a day in each store where its plugin is on, at the local time a
store sets in that plugin's settings (`"HH:MM"`, e.g. campaigns' `care_time`).
`STORECRM_JOB_SCHEDULE` (JSON: name -> seconds or cron expression) overrides a job's schedule.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from croniter import croniter
from flask import g

log = logging.getLogger(__name__)

CHAIN = "chain"
RUN_PERIODIC = "core.scheduling.run_periodic"
KEEP_RUNS = timedelta(days=14)  # claim rows kept for the status page and metrics; the latest always


@dataclass(frozen=True)
class PeriodicJob:
    path: str
    seconds: int | None = None
    cron: str | None = None
    name: str = ""
    per_store: bool = False
    # (plugin, setting): each store's local "HH:MM" in that plugin's settings replaces the
    # cron's minute and hour; stores with the plugin off have no runs.
    time_setting: tuple[str, str] | None = None


@dataclass(frozen=True)
class Slot:
    """What a running periodic job can read from `current_slot()`."""

    job: str
    scope: str
    at: datetime


@dataclass
class JobScheduler:
    """What `register_jobs(scheduler)` receives: collects periodic jobs."""

    jobs: list[PeriodicJob] = field(default_factory=list)

    def every(self, func, seconds: int, name: str = "") -> None:
        from core.jobs import func_path

        self.jobs.append(PeriodicJob(func_path(func), seconds=int(seconds), name=name or func_path(func)))

    def cron(self, func, expression: str, name: str = "", per_store: bool = False) -> None:
        """`expression` on the chain's clock; with `per_store`, on each store's clock, once per
        store, as `func(store_id=...)`."""
        from core.jobs import func_path

        self.jobs.append(PeriodicJob(func_path(func), cron=expression, name=name or func_path(func),
                                     per_store=per_store))

    def store_daily(self, func, plugin: str, setting: str, name: str = "") -> None:
        """Once a day in each store where `plugin` is on, at the store's local time held in the
        plugin's setting `setting` ("HH:MM"), as `func(store_id=...)`."""
        from core.jobs import func_path

        self.jobs.append(PeriodicJob(func_path(func), cron="0 0 * * *", name=name or func_path(func), per_store=True,
                                     time_setting=(plugin, setting)))


def daily_cron(hhmm: str) -> str:
    """The cron expression of a daily run at local time "HH:MM"."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    return f"{minute} {hour} * * *"


def with_overrides(jobs: list[PeriodicJob], overrides: dict) -> list[PeriodicJob]:
    """The schedule with `STORECRM_JOB_SCHEDULE`'s entries applied (an int: seconds; a string: cron)."""
    out = []
    for job in jobs:
        if job.name in overrides:
            value = overrides[job.name]
            seconds, cron = (int(value), None) if isinstance(value, int) else (None, str(value))
            # An override's cron is every store's: it replaces a store's own time too.
            job = PeriodicJob(job.path, seconds=seconds, cron=cron, name=job.name, per_store=job.per_store and bool(cron))
        out.append(job)
    return out


def slot_at(job: PeriodicJob, now: datetime, tz: str, cron: str | None = None) -> datetime:
    """The latest slot of `job` at or before `now`, in UTC (a `cron`, the job's unless given,
    read in time zone `tz`)."""
    if job.seconds:
        return datetime.fromtimestamp(int(now.timestamp()) // job.seconds * job.seconds, timezone.utc)
    # get_prev is strictly before its start: start a second on, so a slot at `now` is `now`'s.
    local = now.astimezone(ZoneInfo(tz)).replace(microsecond=0) + timedelta(seconds=1)
    return croniter(cron or job.cron, local).get_prev(datetime).astimezone(timezone.utc)


def chain_timezone(session) -> str:
    """The chain's clock: the classification setting every chain-wide figure already uses."""
    from core.classification.models import CHAIN_SCOPE
    from core.classification.settings import settings_for

    return settings_for(session, CHAIN_SCOPE)["chain_timezone"]


def scopes_of(job: PeriodicJob, chain_tz: str, stores: list[tuple[int, str]],
              registry=None) -> list[tuple[str, str, dict, str | None]]:
    """(scope, time zone, kwargs, cron) of each run of `job` a slot makes (cron None: the job's)."""
    if job.time_setting:
        plugin, setting = job.time_setting
        return [(f"store:{store_id}", tz or chain_tz, {"store_id": store_id},
                 daily_cron(registry.settings(store_id, plugin)[setting]))
                for store_id, tz in stores if registry.is_enabled(store_id, plugin)]
    if job.per_store:
        return [(f"store:{store_id}", tz or chain_tz, {"store_id": store_id}, None) for store_id, tz in stores]
    return [(CHAIN, chain_tz, {}, None)]


def claim(session, job: str, scope: str, slot: datetime, by: str, outcome: str | None = None) -> int | None:
    """Insert the slot's row; its id when this call made it, None when another scheduler did."""
    from core.models.periodic import PeriodicRun
    from core.models.types import upsert, utcnow

    stmt = (upsert(session, PeriodicRun)
            .values(job=job, scope=scope, slot=slot, claimed_at=utcnow(), claimed_by=by, attempts=0, outcome=outcome)
            .on_conflict_do_nothing(index_elements=["job", "scope", "slot"]).returning(PeriodicRun.id))
    return session.execute(stmt).scalar()


def _never_claimed(session, job: str, scope: str) -> bool:
    from sqlalchemy import select

    from core.models.periodic import PeriodicRun

    return session.scalar(select(PeriodicRun.id).where(PeriodicRun.job == job, PeriodicRun.scope == scope)
                          .limit(1)) is None


def current_slot() -> Slot | None:
    """Inside a periodic job: which job, scope and slot this run is."""
    return g.get("storecrm_periodic_slot")


def run_periodic(run_id: int, path: str, kwargs: dict | None = None, name: str = ""):
    """Run one claimed slot (what the worker executes): the job once, its start, end, outcome
    and duration written to the slot's row and logged under the job's own name. A slot that
    already ran is not run again (a second hand-over after a crash); one whose earlier attempt
    started and never ended (its worker died) is picked up and logged as such. `name` is for
    rq's own log lines (core.jobs.describe); the row has it too."""
    from core.extensions import db
    from core.jobs import import_func
    from core.models.periodic import PeriodicRun
    from core.models.types import utcnow

    row = db.session.get(PeriodicRun, run_id)
    if row is None:
        log.warning("periodic run %s is gone (pruned?); not run", run_id)
        return None
    label = f"{row.job} [{row.scope}, slot {row.slot:%Y-%m-%d %H:%M:%S} UTC]"
    if row.outcome == "ok":
        log.info("periodic job %s already ran; not run again", label)
        return None
    if row.started_at is not None and row.finished_at is None:
        log.warning("periodic job %s: picking up the run started %s UTC that never ended (its worker died); "
                    "attempt %d", label, f"{row.started_at:%H:%M:%S}", row.attempts + 1)
    elif row.outcome == "failed":
        log.info("periodic job %s: attempt %d after a failure", label, row.attempts + 1)
    row.started_at, row.finished_at, row.outcome, row.attempts = utcnow(), None, None, row.attempts + 1
    slot = Slot(row.job, row.scope, row.slot)
    db.session.commit()
    g.storecrm_periodic_slot = slot
    log.info("periodic job %s started", label)
    began = time.monotonic()
    try:
        result = import_func(path)(**(kwargs or {}))
    except Exception as exc:
        db.session.rollback()
        _finish(db.session, run_id, "failed", began, repr(exc)[:2000])
        log.exception("periodic job %s failed after %.2f s", label, time.monotonic() - began)
        raise
    _finish(db.session, run_id, "ok", began)
    log.info("periodic job %s finished: ok in %.2f s", label, time.monotonic() - began)
    return result


def _finish(session, run_id: int, outcome: str, began: float, error: str | None = None) -> None:
    from sqlalchemy import update

    from core.models.periodic import PeriodicRun
    from core.models.types import utcnow

    session.execute(update(PeriodicRun).where(PeriodicRun.id == run_id).values(
        finished_at=utcnow(), outcome=outcome, error=error, duration_ms=int((time.monotonic() - began) * 1000)))
    session.commit()


class PeriodicScheduler(threading.Thread):
    """Claims due slots every `tick` seconds and hands them over (module docstring).

    With Redis: parked in the job outbox with the claim, then pushed; the outbox is flushed on
    every tick, so work parked during a Redis outage moves within a tick of Redis returning.
    Without Redis: run here, in this thread, one after the other."""

    def __init__(self, app, tick: float | None = None):
        super().__init__(daemon=True, name="storecrm-scheduler")
        self.app = app
        self.tick = float(tick if tick is not None else app.config.get("SCHEDULER_TICK", 5))
        self.stopped = threading.Event()
        self.me = f"{socket.gethostname()}:{os.getpid()}"
        from core.jobs import collect_periodic_jobs

        self.jobs = with_overrides(collect_periodic_jobs(app).jobs, app.config.get("JOB_SCHEDULE") or {})
        self.seen: dict[tuple[str, str], datetime] = {}  # the slot last known claimed, per job and scope
        self._failing: str | None = None  # the error of the tick that failed last: one log line per outage

    def stop(self) -> None:
        self.stopped.set()

    def run(self) -> None:
        log.info("periodic scheduler %s started: %d jobs, a tick every %.0f s", self.me, len(self.jobs), self.tick)
        while not self.stopped.is_set():
            self.tick_once()
            self.stopped.wait(self.tick)
        log.info("periodic scheduler %s stopped", self.me)

    def tick_once(self, now: datetime | None = None) -> list[int]:
        """Claim what is due and hand it over; the ids of the runs this scheduler claimed. Never
        raises: a database or Redis outage is logged once and tried again next tick."""
        from core.extensions import db

        with self.app.app_context():
            try:
                claimed = self._claim_due(db.session, now)
                queue = self.app.extensions["storecrm.jobs"]
                if queue.uses_redis:
                    from core.jobs import flush_outbox

                    flush_outbox()
                else:
                    from core.jobs import run_job

                    for run_id, job, kwargs in claimed:
                        try:
                            run_job(RUN_PERIODIC, (run_id, job.path, kwargs, job.name))
                        except Exception:  # noqa: BLE001 - logged and recorded by run_periodic; the next goes on
                            pass
                if self._failing:
                    log.warning("periodic scheduler %s works again (after: %s)", self.me, self._failing)
                    self._failing = None
                return [run_id for run_id, _, _ in claimed]
            except Exception as exc:  # noqa: BLE001 - the scheduler must outlive any outage
                db.session.rollback()
                if self._failing is None:
                    log.warning("periodic scheduler %s cannot claim or hand over jobs, retrying every %.0f s: %r",
                                self.me, self.tick, exc)
                self._failing = repr(exc)[:300]
                return []
            finally:
                db.session.remove()

    def _claim_due(self, session, now: datetime | None) -> list[tuple[int, PeriodicJob, dict]]:
        from sqlalchemy import select

        from core.models import JobOutbox, Store
        from core.models.types import utcnow

        now = now or utcnow()
        chain_tz = chain_timezone(session)
        stores = [tuple(r) for r in session.execute(select(Store.id, Store.timezone).order_by(Store.id))]
        uses_redis = self.app.extensions["storecrm.jobs"].uses_redis
        registry = self.app.extensions["storecrm.plugins"]
        claimed, seen = [], {}
        for job in self.jobs:
            for scope, tz, kwargs, cron in scopes_of(job, chain_tz, stores, registry):
                slot = slot_at(job, now, tz, cron)
                if self.seen.get((job.name, scope)) == slot:
                    continue
                seen[(job.name, scope)] = slot
                if job.cron and (job.name, scope) not in self.seen and _never_claimed(session, job.name, scope):
                    # A new job or store: its schedule starts now (the slot just past is not run).
                    claim(session, job.name, scope, slot, self.me, outcome="skipped")
                    continue
                run_id = claim(session, job.name, scope, slot, self.me)
                if run_id is None:
                    continue  # another scheduler has it
                claimed.append((run_id, job, kwargs))
                if uses_redis:
                    session.add(JobOutbox(path=RUN_PERIODIC, args=[run_id, job.path, kwargs, job.name], kwargs={},
                                          job_id=f"storecrm-periodic-{run_id}", error=None))
        session.commit()
        self.seen.update(seen)
        for run_id, job, _ in claimed:
            log.debug("periodic job %s claimed as run %s", job.name, run_id)
        return claimed


def prune_periodic_runs(now: datetime | None = None) -> int:
    """Daily: claim rows older than two weeks deleted, except each job and scope's latest (it
    tells the scheduler the schedule has started). Returns how many."""
    from sqlalchemy import delete, exists
    from sqlalchemy.orm import aliased

    from core.extensions import db
    from core.models.periodic import PeriodicRun
    from core.models.types import utcnow

    newer = aliased(PeriodicRun)
    cutoff = (now or utcnow()) - KEEP_RUNS
    result = db.session.execute(delete(PeriodicRun).where(
        PeriodicRun.slot < cutoff,
        exists().where(newer.job == PeriodicRun.job, newer.scope == PeriodicRun.scope, newer.slot > PeriodicRun.slot)))
    db.session.commit()
    return result.rowcount


def last_successful_runs(session) -> dict[str, datetime]:
    """Per job: when its latest successful run ended (any scope), for metrics."""
    from sqlalchemy import func, select

    from core.models.periodic import PeriodicRun

    return dict(session.execute(select(PeriodicRun.job, func.max(PeriodicRun.finished_at))
                                .where(PeriodicRun.outcome == "ok").group_by(PeriodicRun.job)).all())


def scheduler_status(app) -> dict:
    """For health checks and the operator: is a scheduler claiming (one claimed within a
    minute, or three times the shortest interval), which one claimed last, and per job its
    last slot, last success and last failure. Raises what the database raises."""
    from sqlalchemy import case, func, select

    from core.extensions import db
    from core.jobs import collect_periodic_jobs
    from core.models.periodic import PeriodicRun
    from core.models.types import utcnow

    with app.app_context():
        jobs = with_overrides(collect_periodic_jobs(app).jobs, app.config.get("JOB_SCHEDULE") or {})
        shortest = min((j.seconds for j in jobs if j.seconds), default=60)
        latest = db.session.execute(select(PeriodicRun.claimed_at, PeriodicRun.claimed_by)
                                    .order_by(PeriodicRun.claimed_at.desc()).limit(1)).first()
        ok_end = func.max(case((PeriodicRun.outcome == "ok", PeriodicRun.finished_at)))
        failed_end = func.max(case((PeriodicRun.outcome == "failed", PeriodicRun.finished_at)))
        rows = db.session.execute(select(PeriodicRun.job, func.max(PeriodicRun.slot), ok_end, failed_end)
                                  .group_by(PeriodicRun.job)).all()
        db.session.remove()
    window = timedelta(seconds=max(60, 3 * shortest))
    return {
        "alive": latest is not None and utcnow() - latest.claimed_at <= window,
        "last_claim_at": latest.claimed_at if latest else None,
        "leader": latest.claimed_by if latest else None,  # the scheduler that claimed last (there is no election)
        "jobs": {job: {"last_slot": slot, "last_success": ok, "last_failure": failed} for job, slot, ok, failed in rows},
    }
