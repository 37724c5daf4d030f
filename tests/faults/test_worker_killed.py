"""An rq worker killed (kill -9, worker and work-horse) in the middle of a long job: after a
restart the job finishes, and no customer gets the message twice and none is skipped."""

from __future__ import annotations

from sqlalchemy import func, select

from core.extensions import db
from core.models import Activity, Customer
from tests.faults import jobfuncs
from tests.faults.conftest import requeue_abandoned, wait_for

CUSTOMERS = 120
RUN = "winter-campaign"


def messages_per_customer(app) -> dict[int, int]:
    with app.app_context():
        rows = db.session.execute(select(Activity.customer_id, func.count()).where(Activity.kind == "message",
                                                                                    Activity.title == RUN)
                                  .group_by(Activity.customer_id)).all()
        return dict(rows)


def test_a_worker_killed_mid_job_finishes_after_a_restart_without_doubling(fault_app, processes):
    app = fault_app
    with app.app_context():
        db.session.add_all([Customer(name=f"顾客{i}", hobbies=[], preferences={}) for i in range(CUSTOMERS)])
        db.session.commit()
        customer_ids = set(db.session.scalars(select(Customer.id)))
    queue = app.extensions["storecrm.jobs"]
    with app.app_context():
        job = queue.enqueue(jobfuncs.message_in_batches, RUN)
    procs = processes(app)

    worker = procs.worker()
    wait_for(lambda: len(messages_per_customer(app)) >= 30, timeout=90, message="the job to be under way")
    procs.kill9(worker)
    done_before = messages_per_customer(app)
    assert 0 < len(done_before) < CUSTOMERS, "the kill must land mid-job"
    assert set(done_before.values()) == {1}

    requeue_abandoned(queue, job)  # rq's heartbeat, retry interval and scheduler, without the wait

    worker = procs.worker()
    wait_for(lambda: len(messages_per_customer(app)) == CUSTOMERS, timeout=120,
             message="the restarted worker to finish the job")
    wait_for(lambda: job.get_status(refresh=True) == "finished", timeout=30, message="the job to finish")
    procs.stop(worker)
    per_customer = messages_per_customer(app)
    assert set(per_customer) == customer_ids  # none skipped
    assert set(per_customer.values()) == {1}  # none twice
