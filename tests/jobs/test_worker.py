"""Jobs through a real Redis and a real `storecrm worker` process; and in-process without Redis."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from core.extensions import db
from core.models import Activity, AuditLog, Customer, EventDelivery, utcnow
from tests.conftest import BUNDLED, Api, build_chain, enable
from tests.jobs import flaky_plugin, jobfuncs

ROOT = Path(__file__).resolve().parents[2]
STORECRM = str(Path(sys.executable).with_name("storecrm"))


@pytest.fixture
def entry_point_dir(tmp_path):
    """A directory on the worker's PYTHONPATH whose dist-info declares the flaky test plugin on
    the `storecrm.plugins` entry-point group, as an installed package would."""
    dist = tmp_path / "site" / "storecrm_test_flaky-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: storecrm-test-flaky\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[storecrm.plugins]\nflaky = tests.jobs.flaky_plugin:manifest\n")
    return dist.parent


@pytest.fixture
def rq_app(make_app, redis_server):
    queue = f"test-{uuid.uuid4().hex[:8]}"
    app = make_app(plugins=[flaky_plugin.manifest], REDIS_URL=redis_server.url, QUEUE_NAME=queue)
    yield app
    app.extensions["storecrm.jobs"].connection().flushdb()


def run_worker(app, entry_point_dir, *args, timeout=60) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "STORECRM_DATABASE_URL": app.config["DATABASE_URL"],
        "STORECRM_REDIS_URL": app.config["REDIS_URL"],
        "STORECRM_DATA_KEY": app.config["DATA_KEY"],
        "STORECRM_SECRET_KEY": app.config["SECRET_KEY"],
        "STORECRM_PLUGINS": ",".join([*BUNDLED, "flaky"]),
        "STORECRM_PLUGINS_STRICT": "1",
        "STORECRM_QUEUE": app.config["QUEUE_NAME"],
        "STORECRM_INSTANCE_PATH": app.config["INSTANCE_PATH"],
        "PYTHONPATH": os.pathsep.join([str(entry_point_dir), str(ROOT)]),
        "FLAKY_PLUGIN_HEALED": "1",
    }
    result = subprocess.run([STORECRM, "worker", "--burst", *args], env=env, cwd=str(entry_point_dir),
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def new_customer(app) -> int:
    with app.app_context():
        customer = Customer(name="王芳", hobbies=[], preferences={})
        db.session.add(customer)
        db.session.commit()
        return customer.id


def test_a_queued_job_waits_in_redis_and_a_worker_process_runs_it(rq_app, entry_point_dir):
    customer_id = new_customer(rq_app)
    with rq_app.app_context():
        job = rq_app.extensions["storecrm.jobs"].enqueue(jobfuncs.write_activity, customer_id, "from the worker")
        assert rq_app.extensions["storecrm.jobs"].queue().count == 1
        assert db.session.scalar(select(func.count()).select_from(Activity)) == 0
    run_worker(rq_app, entry_point_dir)
    assert job.get_status(refresh=True) == "finished"
    with rq_app.app_context():
        title = db.session.scalars(select(Activity.title)).one()
    assert title.startswith("from the worker (pid ") and f"pid {os.getpid()})" not in title


def test_the_delivery_retry_and_plugin_periodic_jobs_run_through_the_scheduler(rq_app, entry_point_dir):
    from core.models import PeriodicRun
    from core.scheduling import PeriodicScheduler

    chain = build_chain(rq_app)
    enable(rq_app, "SH001", "flaky")
    sale = Api(rq_app.test_client(), token=chain.till).post("/sales", {"customer": {"phone": "13800138000"},
                                                                       "lines": [{"sku": "LATTE-M", "quantity": 1}]})
    assert sale.status_code == 201
    with rq_app.app_context():
        assert db.session.scalars(select(EventDelivery.status).where(EventDelivery.plugin == "flaky")).one() == "failed"
        db.session.execute(update(EventDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()

    scheduler = PeriodicScheduler(rq_app)
    jobs = {job.name: job for job in scheduler.jobs}  # bundled plugins register theirs too
    assert {"core.retry_deliveries", "nightly tick", "tests.jobs.jobfuncs.periodic_tick"} <= set(jobs)
    assert (jobs["nightly tick"].cron, jobs["tests.jobs.jobfuncs.periodic_tick"].seconds) == ("0 3 * * *", 3600)
    now = utcnow()
    claimed = scheduler.tick_once(now)
    with rq_app.app_context():
        enqueued = set(db.session.scalars(select(PeriodicRun.job).where(PeriodicRun.id.in_(claimed))))
    # interval jobs start at once; the nightly one's schedule starts with its next 03:00
    assert {"core.retry_deliveries", "tests.jobs.jobfuncs.periodic_tick"} <= enqueued
    assert "nightly tick" not in enqueued
    # a second worker's scheduler does not claim the same slots again
    assert PeriodicScheduler(rq_app).tick_once(now) == []
    # and the drain of the outbox the sale's commit queued (its classification, after the commit)
    assert rq_app.extensions["storecrm.jobs"].queue().count == len(claimed) + 1

    run_worker(rq_app, entry_point_dir)
    with rq_app.app_context():
        delivery = db.session.scalars(select(EventDelivery).where(EventDelivery.plugin == "flaky")).one()
        assert (delivery.status, delivery.attempts) == ("done", 2)
        assert db.session.scalars(select(Activity.title)).all() == [f"flaky saw sale {sale.json['id']}"]
        assert db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "test_tick")) == 1


def test_without_redis_the_same_job_runs_in_process_in_its_own_session(make_app):
    app = make_app()
    assert not app.extensions["storecrm.jobs"].uses_redis
    customer_id = new_customer(app)
    queue = app.extensions["storecrm.jobs"]
    with app.app_context():
        customer = db.session.get(Customer, customer_id)
        # enqueueing inside an open transaction is a bug in both modes: the job must see the writes
        with pytest.raises(RuntimeError, match="commit"):
            queue.enqueue(jobfuncs.write_activity, customer_id, "too early")
        db.session.commit()
        activity_id = queue.enqueue(jobfuncs.write_activity, customer_id, "inline")
        # the caller's session and its objects survive the job
        assert customer in db.session and customer.name == "王芳"
        assert db.session.get(Activity, activity_id).title == f"inline (pid {os.getpid()})"


def test_the_worker_refuses_to_start_without_redis(tmp_path):
    from tests.conftest import DATA_KEY

    env = {**os.environ, "STORECRM_DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}", "STORECRM_DATA_KEY": DATA_KEY,
           "STORECRM_SECRET_KEY": "x", "STORECRM_PLUGINS": ",".join(BUNDLED) or "-", "STORECRM_INSTANCE_PATH": str(tmp_path)}
    env.pop("STORECRM_REDIS_URL", None)
    result = subprocess.run([STORECRM, "worker", "--burst"], env=env, cwd=str(tmp_path), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert "STORECRM_REDIS_URL is not set" in result.stderr


def test_a_long_running_worker_starts_the_periodic_scheduler_which_runs_plugin_periodic_jobs(rq_app, entry_point_dir,
                                                                                       backend):
    import signal
    import time

    if backend != "sqlite":
        pytest.skip("the scheduler does not depend on the database; once is enough")
    env = {
        **os.environ,
        "STORECRM_DATABASE_URL": rq_app.config["DATABASE_URL"], "STORECRM_REDIS_URL": rq_app.config["REDIS_URL"],
        "STORECRM_DATA_KEY": rq_app.config["DATA_KEY"], "STORECRM_SECRET_KEY": rq_app.config["SECRET_KEY"],
        "STORECRM_PLUGINS": ",".join([*BUNDLED, "flaky"]), "STORECRM_QUEUE": rq_app.config["QUEUE_NAME"],
        "STORECRM_INSTANCE_PATH": rq_app.config["INSTANCE_PATH"],
        "PYTHONPATH": os.pathsep.join([str(entry_point_dir), str(ROOT)]),
    }
    worker = subprocess.Popen([STORECRM, "worker"], env=env, cwd=str(entry_point_dir), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, ticks = time.time() + 90, 0
        while time.time() < deadline and not ticks:
            assert worker.poll() is None, worker.stdout.read().decode()[-3000:]
            time.sleep(0.5)
            with rq_app.app_context():
                ticks = db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "test_tick"))
                db.session.rollback()
        assert ticks == 1
        # SIGTERM stops an idle worker cleanly, at once (systemd's stop; rq alone would leave
        # run_worker to start a new rq worker, and the unit would be killed after its timeout).
        worker.send_signal(signal.SIGTERM)
        stopped = worker.wait(20)
        output = worker.stdout.read().decode()
        assert stopped == 0, output[-3000:]
        assert len(re.findall(r"Worker \w+: started with PID", output)) == 1, output[-3000:]  # no new rq worker after the signal
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(5)
