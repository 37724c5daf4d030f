"""`storecrm worker`: an rq worker, with the periodic scheduler as a thread of its own process.

Children die with the worker: rq forks a work-horse per job (but the outbox drain, run in the
worker's own process: INLINE_JOBS) and a process for its own retry scheduler. Killed with
kill -9, a worker would leave them running as orphans (the horse in
its own process group), a job going on with nobody to record its end. Every child forked here
asks the kernel for SIGKILL when its parent dies (Linux PR_SET_PDEATHSIG); rq then sees the job
abandoned and retries it, and the retry is logged (core/jobs.py)."""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import sys
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
RESTART_PAUSE = 2.0  # seconds between rq workers when one quit on its own
# Jobs run in the worker's own process rather than a forked work-horse. The outbox drain follows
# every commit, is short, and holds its own Redis lock: a fork and a new database connection for
# each one cost the tills (on the same cores) more than the drain itself.
INLINE_JOBS = frozenset({"core.delivery.drain_outbox"})


def die_with_parent(parent_pid: int) -> None:
    """In a freshly forked child: be killed when the parent dies (Linux); if it already has, exit."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: nothing to ask for
        return
    if os.getppid() != parent_pid:  # the parent died between the fork and the prctl
        os._exit(1)


def worker_class():
    from rq import Worker
    from rq.worker import WorkerStatus

    class StorecrmWorker(Worker):
        # rq waits up to 60 s between attempts to reach a Redis that went away (doubling from
        # 1 s): after a minute's outage, jobs would wait up to another minute. A few seconds.
        max_connection_wait_time = 4.0
        # Set by a stop signal (SIGTERM, SIGINT). rq's own flag is set only when the signal comes
        # during a job; an idle worker just leaves its loop, which run_worker must not take for
        # "Redis went away, start again".
        stop_signalled = False

        def handle_warm_shutdown_request(self):
            self.stop_signalled = True
            super().handle_warm_shutdown_request()

        def execute_job(self, job, queue):
            if job.args and job.args[0] in INLINE_JOBS:
                # What rq's SimpleWorker does: its timeout, result and failure handling as in a
                # work-horse; the job's database connections are this process's (core/jobs.py
                # gives a later work-horse a pool of its own).
                self.perform_job(job, queue, self.prepare_execution(job))
                self.set_state(WorkerStatus.IDLE)
                return
            super().execute_job(job, queue)

    return StorecrmWorker


def run_worker(app, burst: bool = False, with_scheduler: bool = True, maintenance_interval: int = 30) -> None:
    from core.jobs import flush_outbox
    from core.scheduling import PeriodicScheduler

    queue = app.extensions["storecrm.jobs"]
    me = os.getpid()
    os.register_at_fork(after_in_child=lambda: die_with_parent(me))
    scheduler = None
    if with_scheduler:
        scheduler = PeriodicScheduler(app)
        scheduler.start()
    else:
        flush_outbox()  # jobs parked in the database while Redis was down go first
    # The app's objects out of the collector's sight (core/serving.py warm_up); a forked
    # work-horse then leaves their pages shared, too.
    gc.freeze()
    try:
        lost = False  # one log line per outage, not one per attempt
        while True:
            rq_worker = None
            try:
                # rq's default maintenance interval is 10 minutes, and an idle worker looks at it only
                # between waits for a job of up to worker_ttl - 15 s (405 s): a job whose worker was
                # killed would be found abandoned, and its retry enqueued, only that long after a restart.
                rq_worker = worker_class()([queue.queue()], connection=queue.connection(),
                                           maintenance_interval=maintenance_interval,
                                           worker_ttl=maintenance_interval + 15)
                lost = False
                rq_worker.work(burst=burst, with_scheduler=True)
            except (RedisConnectionError, RedisTimeoutError) as exc:
                _stop_listening(rq_worker)
                if not lost:
                    log.warning("the rq worker lost Redis (%r); trying again every %.0f s", exc, RESTART_PAUSE)
                lost = True
            except RedisError as exc:
                if rq_worker is None or not (rq_worker.stop_signalled or rq_worker._stop_requested):
                    raise
                # The stop signal cut a Redis reply short (rq raises from its handler while the
                # worker waits on Redis), so rq's teardown read a stale reply. Its death record is
                # a key that expires with worker_ttl: stop cleanly all the same.
                log.warning("the rq worker stopped; Redis refused its teardown: %r", exc)
            if burst or (rq_worker is not None and (rq_worker.stop_signalled or rq_worker._stop_requested)):
                break
            # rq quits when Redis goes away while a job runs (it cannot read the job's status);
            # this process and its periodic scheduler go on, with a new rq worker once Redis answers.
            try:
                time.sleep(RESTART_PAUSE)
            except BaseException:  # noqa: BLE001 - a stop signal during the pause: stop
                break
    finally:
        if scheduler is not None:
            scheduler.stop()
            scheduler.join(timeout=30)


def _stop_listening(rq_worker) -> None:
    """The pub/sub thread of an rq worker that quit on a lost Redis would retry forever."""
    thread = getattr(rq_worker, "pubsub_thread", None)
    if thread is None:
        return
    try:
        thread.stop()
    except Exception:  # noqa: BLE001 - it tries to unsubscribe from a Redis that is gone; stopped all the same
        pass
