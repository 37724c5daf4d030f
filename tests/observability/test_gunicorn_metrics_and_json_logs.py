"""`storecrm run` as a shop runs it (gunicorn, two worker processes) with JSON logs and a
metrics token: /metrics adds up the requests of both workers whichever one answers the scrape
and refuses a scraper without the token; every line the server writes (gunicorn's own and its
access lines included) is a JSON object with a time, a level and a pid, the access line carries
the request's id, and nothing holds a colour code."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import BUNDLED, DATA_KEY
from tests.services import _wait_port, free_port

STORECRM = str(Path(sys.executable).with_name("storecrm"))


def _get(url, headers=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def test_two_gunicorn_workers_share_metrics_and_write_json_lines(templates, tmp_path):
    database = tmp_path / "shop.db"
    shutil.copy(templates["sqlite"], database)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STORECRM_", "PROMETHEUS_"))}
    env.update({"STORECRM_DATABASE_URL": f"sqlite:///{database}", "STORECRM_DATA_KEY": DATA_KEY,
                "STORECRM_SECRET_KEY": "x", "STORECRM_ENV_FILE": str(tmp_path / "none"),
                "STORECRM_PLUGINS": ",".join(BUNDLED), "STORECRM_INSTANCE_PATH": str(tmp_path / "instance"),
                "STORECRM_LOG_FORMAT": "json", "STORECRM_METRICS_TOKEN": "scrape-me"})
    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([STORECRM, "run", "--port", str(port), "--workers", "2", "--threads", "2"], env=env,
                                  cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        assert _wait_port(port, timeout=60), log_path.read_text()[-3000:]
        deadline = time.time() + 60
        while _get(base + "/readyz")[0] != 200:
            assert time.time() < deadline and server.poll() is None, log_path.read_text()[-3000:]
            time.sleep(0.2)
        for n in range(12):
            status, headers, _ = _get(base + "/healthz", {"X-Request-Id": f"probe-{n}"})
            assert status == 200 and headers["X-Request-Id"] == f"probe-{n}"
        assert _get(base + "/metrics")[0] == 401
        assert _get(base + "/metrics", {"Authorization": "Bearer wrong"})[0] == 401
        pids, counts = set(), set()
        for _ in range(6):  # several scrapes: each may land on either worker, each sees the sum
            status, headers, text = _get(base + "/metrics", {"Authorization": "Bearer scrape-me"})
            assert status == 200 and headers["Content-Type"].startswith("text/plain"), text[:500]
            found = re.search(r'^storecrm_http_requests_total\{method="GET",route="/healthz",status="200"\} (\S+)$',
                              text, re.M)
            counts.add(float(found.group(1)) if found else None)
            assert re.search(r"^storecrm_database_up 1\.0$", text, re.M), text[-2000:]
            assert re.search(r"^storecrm_event_deliveries\{status=\"dead\"\} 0\.0$", text, re.M)
            # the scheduler that claimed the latest periodic slot: one of the workers (host:pid)
            assert re.search(r'^storecrm_scheduler_leader\{leader="[^"]+:\d+",mode="in-process"\} 1\.0$', text, re.M), \
                text[-2000:]
            assert "storecrm_http_request_duration_seconds_bucket" in text
        assert counts == {12.0}, counts
    finally:
        server.terminate()
        server.wait(30)
    text = log_path.read_text(encoding="utf-8")
    assert "\x1b" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    for line in lines:
        assert {"time", "level", "pid", "request_id", "logger", "message"} <= set(line), line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    pids = {line["pid"] for line in lines if line["logger"] == "gunicorn.error" and "Booting worker" in line["message"]}
    assert len(pids) == 2, [line["message"] for line in lines if line["logger"] == "gunicorn.error"]
    access = [line for line in lines if line["logger"] == "gunicorn.access" and "/healthz" in line["message"]]
    probes = {line["request_id"] for line in access if line["request_id"].startswith("probe-")}
    assert probes == {f"probe-{n}" for n in range(12)}
    assert {line["pid"] for line in access} <= pids
