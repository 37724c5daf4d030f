"""One full reclassification at a time: a second run (the nightly job, `storecrm classify
recompute`) finds the first one's lock and refuses, or waits with --wait; a lock left by a
killed run does not block the next one. Real processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.models import Activity, utcnow
from tests.classification.helpers import bulk_sale, customer
from tests.conftest import BUNDLED, DATA_KEY

STORECRM = str(Path(sys.executable).with_name("storecrm"))
ROOT = str(Path(__file__).resolve().parents[2])

# A separate process that takes the run lock the way a run does, says so, and holds it until
# its stdin closes (or it is killed).
HOLDER = """
import sys
from core.app import create_app
from core.classification.jobs import RUN_LOCK, RUN_LOCK_TTL
from core.extensions import db
from core.locks import run_lock

app = create_app()
with app.app_context(), run_lock(db.engine, RUN_LOCK, RUN_LOCK_TTL):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def env(database_url, tmp_path):
    return {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]),
            "STORECRM_DATABASE_URL": database_url, "STORECRM_DATA_KEY": DATA_KEY,
            "STORECRM_SECRET_KEY": "lock-test", "STORECRM_INSTANCE_PATH": str(tmp_path / "instance"),
            "STORECRM_PLUGINS": ",".join(BUNDLED), "STORECRM_PLUGINS_STRICT": "1",
            "STORECRM_ENV_FILE": str(tmp_path / "none.env"), "STORECRM_REDIS_URL": ""}


@pytest.fixture
def holder(env):
    """Start a process holding the run lock; yields it (running) and stops it afterwards."""
    started = []

    def start():
        proc = subprocess.Popen([sys.executable, "-c", HOLDER], env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        started.append(proc)
        assert proc.stdout.readline().strip() == "held"
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def sales_to_classify():
    """Customers with sales written as rows: classes appear only when a full run runs."""
    people = [customer(f"c{i}") for i in range(12)]
    for i, who in enumerate(people):
        for k in range(1 + i % 4):
            bulk_sale(who, 20 + 15 * i, days_ago=3 + 20 * k)
    db.session.commit()
    return people


def class_rows() -> int:
    from core.classification.models import CustomerClass

    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(CustomerClass))


def class_changes() -> Counter:
    db.session.expire_all()
    return Counter(db.session.execute(select(Activity.customer_id, Activity.title)
                                      .where(Activity.kind == "class_change")).all())


def storecrm(env, *args, timeout=120):
    return subprocess.run([STORECRM, *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_a_second_run_refuses_while_one_runs_and_waits_with_wait(app, chain, env, holder):
    from core.classification.jobs import nightly_recompute

    with app.app_context():
        sales_to_classify()
        assert class_rows() == 0
    first = holder()

    cli = storecrm(env, "classify", "recompute")
    assert cli.returncode != 0
    assert "already running" in cli.stderr and "--wait" in cli.stderr
    with app.app_context():
        assert nightly_recompute() == []  # the job logs and returns; the cron tries again tomorrow
        assert class_rows() == 0 and not class_changes()  # neither wrote anything

    waiting = subprocess.Popen([STORECRM, "classify", "recompute", "--wait"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    assert waiting.poll() is None  # still waiting for the first run
    first.stdin.close()  # the first run ends
    assert first.wait(10) == 0
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert "SH001:" in out and "chain:" in out
    with app.app_context():
        assert class_rows() > 0


def test_a_lock_left_by_a_killed_run_does_not_block_the_next(app, chain, env, holder):
    from core.classification.jobs import recompute_all_alone

    with app.app_context():
        sales_to_classify()
    dead = holder()
    os.kill(dead.pid, signal.SIGKILL)  # no finally, no unlock
    dead.wait(10)
    with app.app_context():
        # PostgreSQL drops the lock with the dead client's connection (a moment later); on
        # SQLite the row's process is gone. Either way the next run goes ahead.
        results = recompute_all_alone(db.session, wait=15)
        assert chain.ids["sh"] in {r["scope_id"] for r in results}
        assert class_rows() > 0


def test_an_expired_lock_row_is_taken_over_and_a_live_one_is_not(app, chain, backend):
    if backend != "sqlite":
        pytest.skip("PostgreSQL's advisory lock has no row and no expiry: it ends with its connection")
    from core.classification.jobs import RUN_LOCK, nightly_recompute, recompute_all_alone
    from core.locks import LockHeld
    from core.models import JobLock

    with app.app_context():
        sales_to_classify()
        now = utcnow()
        # Another host's run: its process cannot be checked from here, only its expiry.
        db.session.add(JobLock(name=RUN_LOCK, holder="till-server-2:4242", acquired_at=now - timedelta(minutes=5),
                               expires_at=now + timedelta(minutes=55)))
        db.session.commit()
        with pytest.raises(LockHeld, match="till-server-2:4242"):
            recompute_all_alone(db.session)
        assert nightly_recompute() == [] and class_rows() == 0

        row = db.session.get(JobLock, RUN_LOCK)
        row.acquired_at, row.expires_at = now - timedelta(hours=2), now - timedelta(hours=1)
        db.session.commit()
        assert nightly_recompute() != []
        assert class_rows() > 0
        db.session.expire_all()
        assert db.session.get(JobLock, RUN_LOCK) is None  # released at the end


def test_two_nightly_runs_at_once_write_each_class_change_once(app, chain):
    from core.classification.compute import recompute_all
    from core.classification.jobs import nightly_recompute

    with app.app_context():
        people = sales_to_classify()
        recompute_all(db.session)  # classified once; a first class is not a change
        for who in people[:6]:  # then the small spenders become the big ones
            for k in range(8):
                bulk_sale(who, 900, days_ago=1 + k)
        db.session.commit()
        recompute_all(db.session, commit=False)
        expected = class_changes()
        db.session.rollback()
        assert expected and not class_changes()

    start = threading.Barrier(2)
    returned, errors = [], []

    def run():
        try:
            with app.app_context():
                start.wait()
                returned.append(nightly_recompute())
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert len(returned) == 2 and any(returned)
    with app.app_context():
        assert class_changes() == expected  # each change once, none lost
