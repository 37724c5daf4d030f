"""What /readyz and /metrics read, after a real `storecrm worker --burst` ran a job: the
scheduler that claimed the latest periodic slot and each job's last success (from the
durable `periodic_run` record every scheduler writes), the queue's depth from Redis;
the worker's own lines carry a time, a level and its pid, without colour codes. Redis down
leaves a web process ready (sales go on, jobs wait in the database) and says so."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import BUNDLED, base_config
from tests.observability.test_logs_and_request_id import TEXT_LINE

ROOT = Path(__file__).resolve().parents[2]
STORECRM = str(Path(sys.executable).with_name("storecrm"))
SWEEP = "core.delivery.sweep_outbox"  # the path of the periodic job "core.outbox_sweep"


@pytest.fixture
def redis_app(templates, tmp_path, redis_server):
    from core.app import create_app
    from core.extensions import db

    shutil.copy(templates["sqlite"], tmp_path / "shop.db")
    app = create_app(base_config(tmp_path, f"sqlite:///{tmp_path / 'shop.db'}", REDIS_URL=redis_server.url,
                                 QUEUE_NAME=f"obs-{uuid.uuid4().hex[:8]}", METRICS_TOKEN="t0ken"))
    yield app
    connection = app.extensions["storecrm.jobs"].connection()
    for key in connection.scan_iter(f"*{app.config['QUEUE_NAME']}*"):
        connection.delete(key)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_leader_last_success_and_queue_depth_come_from_redis_and_the_worker_logs_plainly(redis_app):
    from datetime import timedelta

    from core.extensions import db
    from core.models import PeriodicRun, utcnow

    app = redis_app
    queue = app.extensions["storecrm.jobs"]
    queue.push(SWEEP, (), {}, None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORECRM_")}
    env.update({"STORECRM_DATABASE_URL": app.config["DATABASE_URL"], "STORECRM_REDIS_URL": app.config["REDIS_URL"],
                "STORECRM_DATA_KEY": app.config["DATA_KEY"], "STORECRM_SECRET_KEY": "x",
                "STORECRM_PLUGINS": ",".join(BUNDLED), "STORECRM_QUEUE": app.config["QUEUE_NAME"],
                "STORECRM_INSTANCE_PATH": app.config["INSTANCE_PATH"], "STORECRM_ENV_FILE": "/nonexistent",
                "PYTHONPATH": str(ROOT)})
    started = time.time()
    worker = subprocess.run([STORECRM, "worker", "--burst"], env=env, capture_output=True, text=True, timeout=120)
    assert worker.returncode == 0, worker.stderr[-3000:]
    output = worker.stdout + worker.stderr
    assert "\x1b" not in output
    lines = output.splitlines()
    assert any("rq.worker: " in line and "Job OK" in line for line in lines), output[-2000:]
    for line in lines:
        assert TEXT_LINE.match(line), line
    queue.push(SWEEP, (), {}, None)  # waiting: the queue's depth is 1
    with app.app_context():  # what a scheduler writes when it claims a slot and the run ends
        now = utcnow()
        db.session.add(PeriodicRun(job="core.outbox_sweep", scope="chain", slot=now - timedelta(seconds=15),
                                   claimed_at=now, claimed_by="host-a:worker-1", started_at=now, finished_at=now,
                                   outcome="ok", attempts=1, duration_ms=3))
        db.session.commit()

    client = app.test_client()
    scheduler = client.get("/readyz").get_json()["checks"]["scheduler"]
    assert scheduler["mode"] == "redis" and scheduler["leader"] == "host-a:worker-1"
    assert list(scheduler["last_success"]) == ["core.outbox_sweep"]
    from datetime import datetime

    finished = datetime.fromisoformat(scheduler["last_success"]["core.outbox_sweep"]).timestamp()
    assert started - 1 <= finished <= time.time()

    assert client.get("/metrics").status_code == 401
    text = client.get("/metrics", headers={"Authorization": "Bearer t0ken"}).get_data(as_text=True)
    name = app.config["QUEUE_NAME"]
    assert re.search(rf'^storecrm_job_queue_depth\{{queue="{name}"\}} 1\.0$', text, re.M), text
    assert re.search(rf'^storecrm_jobs_failed\{{queue="{name}"\}} 0\.0$', text, re.M)
    assert re.search(r"^storecrm_redis_up 1\.0$", text, re.M) and re.search(r"^storecrm_job_outbox_size 0\.0$", text, re.M)
    assert re.search(r'^storecrm_scheduler_leader\{leader="host-a:worker-1",mode="redis"\} 1\.0$', text, re.M)
    last = re.search(r'^storecrm_periodic_job_last_success_timestamp_seconds\{job="core.outbox_sweep"\} (\S+)$', text, re.M)
    assert last and abs(float(last.group(1)) - finished) < 1
    assert re.search(r'^storecrm_http_requests_total\{method="GET",route="/readyz",status="200"\} 1\.0$', text, re.M)


def test_redis_down_is_reported_but_leaves_the_web_process_ready(templates, tmp_path):
    from core.app import create_app

    shutil.copy(templates["sqlite"], tmp_path / "shop.db")
    app = create_app(base_config(tmp_path, f"sqlite:///{tmp_path / 'shop.db'}", REDIS_URL="redis://127.0.0.1:1/0",
                                 METRICS_TOKEN="t0ken"))
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    checks = ready.get_json()["checks"]
    assert checks["redis"] == {"ok": False, "configured": True, "error": "ConnectionError"}
    assert checks["scheduler"] == {"mode": "redis", "leader": None}
    text = client.get("/metrics", headers={"Authorization": "Bearer t0ken"}).get_data(as_text=True)
    assert re.search(r"^storecrm_redis_up 0\.0$", text, re.M) and re.search(r"^storecrm_database_up 1\.0$", text, re.M)
