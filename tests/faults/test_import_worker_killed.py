"""A worker killed (kill -9, worker and work-horse) in the middle of an uploaded customer
import: rq hands the job to the next worker, which imports the file again from the start. The
customers already written are matched by phone and card number and updated, never duplicated."""

from __future__ import annotations

import io
import os
import signal
import time
from pathlib import Path

from rq.job import Job
from rq.registry import StartedJobRegistry
from sqlalchemy import func, select

from core.extensions import db
from core.models import Customer, ImportRun
from tests.admin.conftest import login
from tests.conftest import build_chain
from tests.faults.conftest import wait_for

ROWS = 3000  # the job commits every 500 rows: the kill lands after the first batch, well before the end


def customer_file() -> bytes:
    lines = ["会员卡号,姓名,手机号"] + [f"K{i:05d},顾客{i},139{i:08d}" for i in range(ROWS)]
    return "\n".join(lines).encode()


def kill9_with_work_horse(procs, worker) -> None:
    """kill -9 the worker and the work-horse it forked: rq puts the horse in a process group of
    its own, so killing the worker's group alone would leave the horse importing. The worker
    dies first, as with a machine dying: a horse killed first would be seen dying by its
    still-living worker, which would then fail or retry the job itself (not what is tested)."""
    horses = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == worker.pid:  # the parent pid
            horses.append(int(stat.parent.name))
    procs.kill9(worker)  # the worker first, then everything below it (its horse among them)
    for pid in horses:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def state(app) -> tuple[str, int, int]:
    with app.app_context():
        run = db.session.scalars(select(ImportRun)).one()
        customers = db.session.scalar(select(func.count()).select_from(Customer))
        db.session.rollback()
        return run.status, run.rows_done, customers


def test_an_import_whose_worker_is_killed_finishes_on_the_next_worker_without_duplicates(fault_app, processes):
    app = fault_app
    build_chain(app)
    client = app.test_client()
    assert login(client, "manager").status_code == 302
    response = client.post("/admin/import/", data={"kind": "customers", "store": "SH001",
                                                   "file": (io.BytesIO(customer_file()), "members.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    assert state(app) == ("queued", 0, 0)
    procs = processes(app)

    worker = procs.worker()
    wait_for(lambda: state(app)[1] >= 500, timeout=240, interval=0.1, message="the first batch to be committed")
    kill9_with_work_horse(procs, worker)
    status, rows_done, written = state(app)
    assert status == "running" and 0 < written < ROWS, "the kill must land mid-file"

    # rq finds the job abandoned once its heartbeat lapses and schedules the retry 10 s later;
    # the killed worker's scheduler still holds rq's scheduling lock for a while. The test
    # moves the clock past both instead of waiting.
    queue = app.extensions["storecrm.jobs"].queue()
    StartedJobRegistry(queue=queue).cleanup(timestamp=time.time() + 3600)
    scheduled = queue.scheduled_job_registry
    due = scheduled.get_jobs_to_schedule(int(time.time()) + 3600)
    with app.app_context():
        job_id = f"storecrm-import-{db.session.scalars(select(ImportRun.id)).one()}"
    assert due == [job_id], (Job.fetch(job_id, connection=queue.connection).get_status(), queue.job_ids)
    for job in Job.fetch_many(due, connection=queue.connection):
        scheduled.remove(job)
        queue.enqueue_job(job)

    worker = procs.worker()
    wait_for(lambda: state(app)[0] == "done", timeout=300, interval=0.5, message="the restarted worker to finish")
    procs.stop(worker)
    with app.app_context():
        run = db.session.scalars(select(ImportRun)).one()
        assert db.session.scalar(select(func.count()).select_from(Customer)) == ROWS  # none twice, none missing
        assert db.session.scalar(select(func.count(func.distinct(Customer.code)))) == ROWS
        # The second attempt read the whole file: what the first one wrote it updated.
        assert (run.attempts, run.rows_done, run.created + run.updated, run.rejected) == (2, ROWS, ROWS, 0)
        assert run.updated == written


def test_a_run_whose_worker_died_for_good_is_failed_by_the_reaper_not_left_running(fault_app, processes):
    """No retry comes (rq's retries spent, or nobody restarts the workers): once the dead
    worker's key has lapsed and the run was silent past the setting, the page shows why."""
    from datetime import timedelta

    from rq.worker import Worker
    from sqlalchemy import update

    from core.imports.cleanup import WORKER_STOPPED, reap_stale_runs
    from core.models import utcnow

    app = fault_app
    build_chain(app)
    client = app.test_client()
    assert login(client, "manager").status_code == 302
    client.post("/admin/import/", data={"kind": "customers", "store": "SH001",
                                        "file": (io.BytesIO(customer_file()), "members.csv")},
                content_type="multipart/form-data")
    procs = processes(app)
    worker = procs.worker()
    wait_for(lambda: state(app)[1] >= 500, timeout=240, interval=0.1, message="the first batch to be committed")
    kill9_with_work_horse(procs, worker)
    assert state(app)[0] == "running"
    connection = app.extensions["storecrm.jobs"].connection()
    with app.app_context():
        run = db.session.scalars(select(ImportRun)).one()
        job = Job.fetch(f"storecrm-import-{run.id}", connection=connection)
        assert job.get_status() == "started" and job.worker_name
        # Silent past the setting (2 hours), moved back rather than waited for.
        db.session.execute(update(ImportRun).values(progress_at=utcnow() - timedelta(hours=3)))
        db.session.commit()
        # The worker's key outlives it by its heartbeat TTL: rq cannot yet tell it from a slow one.
        assert reap_stale_runs(db.session) == []
        connection.delete(Worker.redis_worker_namespace_prefix + job.worker_name)  # the TTL lapsed
        assert reap_stale_runs(db.session) == [run.id]
        run = db.session.get(ImportRun, run.id)
        assert (run.status, run.error) == ("failed", WORKER_STOPPED)
        from core.imports import stored

        assert not stored.has_part(db.session, run.id, "upload")  # the upload, encrypted in the database, deleted
    page = client.get("/admin/import/").get_data(as_text=True)
    assert "the worker stopped; start the import again" in page and "location.reload" not in page
