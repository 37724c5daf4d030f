"""Periodic jobs through a Redis outage, a worker killed and one stopped cleanly, with real
`storecrm worker` processes on PostgreSQL and Redis: every slot of every job runs exactly once.
One test, in phases, so the processes start once (their start-up is most of its time).

The fault plugin's two periodic jobs are shortened with STORECRM_JOB_SCHEDULE: `faultplug.tick`
every 2 s (chain-wide) and `faultplug.nightly` every 4 s on each store's clock (a cron with a
seconds field), so a test sees dozens of slots in seconds. Each run writes one audit row naming
its slot; the tests count those rows per slot."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from core.extensions import db
from core.models import AuditLog, JobOutbox, PeriodicRun
from tests.conftest import build_chain
from tests.faults.conftest import alive, descendants, wait_for

TICK, NIGHTLY = 2, 4
OUTAGE = 2 * NIGHTLY  # seconds Redis is down: a few slots of each job
SCHEDULE = '{"faultplug.tick": %d, "faultplug.nightly": "* * * * * */%d"}' % (TICK, NIGHTLY)
FAST = {"STORECRM_JOB_SCHEDULE": SCHEDULE, "STORECRM_SCHEDULER_TICK": "1", "STORECRM_WORKER_MAINTENANCE_INTERVAL": "5"}


def runs(app) -> Counter:
    """(job, scope, slot) -> how many times the job ran for it."""
    with app.app_context():
        rows = db.session.execute(select(AuditLog.target_type, AuditLog.target_id)
                                  .where(AuditLog.action == "periodic_note")).all()
        db.session.rollback()
    return Counter((job, *target.split("@")) for job, target in rows)


def claimed(app) -> list[tuple[str, str, datetime, str | None]]:
    with app.app_context():
        rows = db.session.execute(select(PeriodicRun.job, PeriodicRun.scope, PeriodicRun.slot, PeriodicRun.outcome)
                                  .where(PeriodicRun.job.like("faultplug.%")).order_by(PeriodicRun.slot)).all()
        db.session.rollback()
    return [tuple(r) for r in rows]


def slots(app, job: str, scope: str) -> list[datetime]:
    return [slot for j, s, slot, outcome in claimed(app) if (j, s) == (job, scope) and outcome != "skipped"]


def worker_running(app, job) -> int | None:
    """The pid of the worker process running `job`, once one does."""
    from rq import Worker

    job.refresh()
    if job.get_status() != "started" or not job.worker_name:
        return None
    connection = app.extensions["storecrm.jobs"].connection()
    return next((w.pid for w in Worker.all(connection=connection) if w.name == job.worker_name), None)


def taken_by(app, job: str, scope: str, pid: int) -> list[datetime]:
    """The slots the scheduler of worker `pid` claimed."""
    with app.app_context():
        found = db.session.scalars(select(PeriodicRun.slot).where(
            PeriodicRun.job == job, PeriodicRun.scope == scope, PeriodicRun.claimed_by.like(f"%:{pid}"))).all()
        db.session.rollback()
    return list(found)


def gaps(found: list[datetime], step: int) -> list[tuple[datetime, datetime]]:
    return [(a, b) for a, b in zip(found, found[1:]) if (b - a) != timedelta(seconds=step)]


def assert_each_claimed_slot_ran_once(app):
    counted = runs(app)
    done = [(job, scope, f"{slot:%Y-%m-%dT%H:%M:%S}") for job, scope, slot, outcome in claimed(app) if outcome != "skipped"]
    assert done, "no periodic run at all"
    assert {k: counted[k] for k in done} == {k: 1 for k in done}, "a slot ran twice or not at all"
    assert set(counted) == set(done), "a run without a claimed slot"
    assert {outcome for *_, outcome in claimed(app)} <= {"ok", "skipped"}


def outbox_size(app) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(JobOutbox))
        db.session.rollback()
    return n


def drain(app) -> None:
    """Run what the last worker queued and did not take (rq's own worker, in this process)."""
    from rq import SimpleWorker

    from core.jobs import flush_outbox

    queue = app.extensions["storecrm.jobs"]
    with app.app_context():
        flush_outbox()  # runs parked in the database while Redis was down, if no worker handed them over
        SimpleWorker([queue.queue()], connection=queue.connection()).work(burst=True)


def retry_abandoned(app) -> None:
    """With every worker stopped: what rq's maintenance would do, in time, with the jobs of a
    worker that lost Redis mid-run (their lease lapses, a retry is scheduled, then enqueued)."""
    from rq.registry import ScheduledJobRegistry, StartedJobRegistry

    queue = app.extensions["storecrm.jobs"].queue()
    # A job a killed worker had dequeued but not yet started sits in rq's intermediate list;
    # maintenance fails it into a retry once it has been seen there for a while.
    started = set(StartedJobRegistry(queue=queue).get_job_ids())
    for job_id in queue.intermediate_queue.get_job_ids():
        if job_id not in started:
            queue.intermediate_queue.remove(job_id)
            queue.push_job_id(job_id)
    StartedJobRegistry(queue=queue).cleanup(timestamp=time.time() + 3600)
    scheduled = ScheduledJobRegistry(queue=queue)
    for job_id in scheduled.get_job_ids():
        scheduled.requeue(job_id)


def test_periodic_jobs_run_once_per_slot_through_a_redis_outage_a_killed_and_a_stopped_worker(
        fault_app, processes, durable_redis):
    app = fault_app
    chain = build_chain(app)
    stores = [f"store:{chain.ids['sh']}", f"store:{chain.ids['bj']}"]
    procs = processes(app)
    first, second = procs.worker(**FAST), procs.worker(**FAST)
    wait_for(lambda: len(slots(app, "faultplug.nightly", stores[0])) >= 2, timeout=90, message="the first runs")

    # 1. Redis down across several slots: the schedulers go on claiming, the runs wait in the
    # database and run once each within seconds of Redis coming back.
    durable_redis.stop()
    down_at = datetime.now(timezone.utc)
    time.sleep(OUTAGE)
    assert outbox_size(app) >= OUTAGE // TICK - 2, procs.log(first)
    assert first.poll() is None and second.poll() is None, "a worker died with Redis"
    durable_redis.restart()
    back_at, back_at_utc = time.monotonic(), datetime.now(timezone.utc)

    def parked_runs_done():
        during = [o for _, _, slot, o in claimed(app) if down_at + timedelta(seconds=NIGHTLY) < slot < back_at_utc]
        return outbox_size(app) == 0 and during and all(o is not None for o in during)
    wait_for(parked_runs_done, timeout=60, message="the runs parked during the outage to run")
    resumed_in = time.monotonic() - back_at
    assert resumed_in < 15, f"the parked runs waited {resumed_in:.0f} s after Redis came back"

    # 2. A worker's main process killed (not its group) while it runs a long job: its work-horse
    # and rq's scheduler child die with it, nothing runs on as an orphan; the other goes on.
    with app.app_context():
        from tests.faults.jobfuncs import sleep_then_note

        long_job = app.extensions["storecrm.jobs"].enqueue(sleep_then_note, 30, "orphan?")
    pid = wait_for(lambda: worker_running(app, long_job), timeout=30, message="the long job to start")
    victim, survivor = (first, second) if pid == first.pid else (second, first)
    assert pid == victim.pid
    family = descendants(victim.pid)
    assert family, "the worker has children (its work-horse, rq's scheduler)"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(10)
    wait_for(lambda: not any(alive(pid) for pid in family), timeout=10, message="the killed worker's children to die")
    killed_at = datetime.now(timezone.utc)
    # rq would retry the long job once its lease lapsed; this test asks only that it does not go
    # on as an orphan, so it leaves rq (the retry of a killed job is tests/faults/test_worker_killed.py).
    long_job.delete()
    wait_for(lambda: slots(app, "faultplug.tick", "chain")[-1] > killed_at + timedelta(seconds=2 * TICK), timeout=30,
             message="the surviving worker to go on")

    # 3. The last worker stopped cleanly (SIGTERM); no worker for a while; a new one takes over.
    procs.stop(survivor)
    stopped_at = datetime.now(timezone.utc)
    time.sleep(2 * NIGHTLY + 1)
    third = procs.worker(**FAST)
    restarted = stopped_at + timedelta(seconds=2 * NIGHTLY + 1)
    wait_for(lambda: all(slots(app, "faultplug.nightly", s)[-1] > restarted for s in stores), timeout=90,
             message="a new worker to take over")
    procs.stop(third)
    # The run rq was handing over when Redis went away is rq's abandoned job: in production a
    # worker's maintenance finds it once its lease lapses and retries it 10 s later. No worker
    # runs now, so nothing is running for real: move the clock past the lease and the retry's
    # wait (as requeue_abandoned does) instead of waiting minutes on a busy machine, and check
    # the run goes the retry's way, once.
    def all_ran() -> bool:
        retry_abandoned(app)
        drain(app)
        return all(outcome is not None for *_, outcome in claimed(app))

    try:
        wait_for(all_ran, timeout=30, interval=1, message="every claimed run to have run")
    except AssertionError as exc:
        from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

        queue = app.extensions["storecrm.jobs"].queue()
        state = {"queued": queue.job_ids, "intermediate": queue.intermediate_queue.get_job_ids(),
                 "started": StartedJobRegistry(queue=queue).get_job_ids(),
                 "scheduled": ScheduledJobRegistry(queue=queue).get_job_ids(),
                 "failed": FailedJobRegistry(queue=queue).get_job_ids(), "parked": outbox_size(app)}
        missing = [c for c in claimed(app) if c[3] is None]
        raise AssertionError(f"{exc}: not run {missing}; rq {state}") from None

    assert_each_claimed_slot_ran_once(app)
    outage = timedelta(seconds=OUTAGE)
    for job, step, scopes in (("faultplug.tick", TICK, ["chain"]), ("faultplug.nightly", NIGHTLY, stores)):
        for scope in scopes:
            found = slots(app, job, scope)
            # Claimed through the outage (a busy machine may stall a tick past a slot: a lost
            # slot is not a doubled one).
            during = [slot for slot in found if down_at < slot < down_at + outage]
            assert len(during) >= outage // timedelta(seconds=step) - 2, (job, scope, during)
            # The stretch with no worker at all: the new worker's first run closes it, one run for
            # the slots missed (at least one), not one per slot.
            first_new = min(slot for slot in taken_by(app, job, scope, third.pid))
            last_old = max(slot for slot in found if slot < first_new)
            assert last_old <= stopped_at and (first_new - last_old) // timedelta(seconds=step) >= 2, \
                (job, scope, last_old, first_new)
            # While a worker lived (the kill included) slots follow each other (a busy machine may
            # stall a tick past one slot).
            other_gaps = [(a, b) for a, b in gaps(found, step) if (a, b) != (last_old, first_new)]
            assert all(b - a <= timedelta(seconds=2 * step) for a, b in other_gaps), (job, scope, other_gaps)
    # An orphan would have finished its 30 s sleep by now.
    time.sleep(max(0.0, (killed_at + timedelta(seconds=32) - datetime.now(timezone.utc)).total_seconds()))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "slept")) == 0, \
            "the killed worker's job went on as an orphan"
        db.session.rollback()
