"""`storecrm run` without Redis, as a one-shop server runs on SQLite: the reactions after the
commit are delivered by a process of the server's own, not by the workers that answer the tills.
It is one process for several workers, the master starts it again when it is killed, and it
stops with the server."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request

import pytest
from sqlalchemy import func, select

from core.app import create_app
from core.extensions import db
from core.migrate import upgrade
from core.models import EventDelivery
from tests.conftest import BUNDLED, DATA_KEY, base_config, build_chain
from tests.services import free_port
from tests.test_after_commit import class_of
from tests.test_cli import STORECRM

pytestmark = pytest.mark.skipif(not os.path.exists(STORECRM), reason="the storecrm command is not installed")


def wait_for(condition, what: str, timeout: float = 30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too (its parent has not reaped it yet).
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ")[-1][0] != "Z"


def test_reactions_are_delivered_by_one_process_of_the_server_which_restarts_and_stops_with_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    app = create_app(base_config(tmp_path, url))
    upgrade(app)
    chain = build_chain(app)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()

    env = {k: v for k, v in os.environ.items() if not k.startswith("STORECRM_")}
    env.update({"STORECRM_DATA_KEY": DATA_KEY, "STORECRM_SECRET_KEY": "delivery-test",
                "STORECRM_ENV_FILE": str(tmp_path / "none"), "STORECRM_DATABASE_URL": url,
                "STORECRM_PLUGINS": ",".join(BUNDLED), "STORECRM_INSTANCE_PATH": str(tmp_path / "instance")})
    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log_file:
        server = subprocess.Popen([STORECRM, "run", "--port", str(port), "--workers", "2", "--threads", "2",
                                   "--no-access-log"], env=env, cwd=str(tmp_path), stdout=log_file,
                                  stderr=subprocess.STDOUT)

    def log() -> str:
        return log_path.read_text(errors="replace")

    def sell(phone: str) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/sales", method="POST",
            data=json.dumps({"lines": [{"sku": "LATTE-M", "quantity": 2}], "customer": {"phone": phone}}).encode(),
            headers={"Authorization": f"Bearer {chain.till}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 201
            return json.loads(answer.read())

    def pending() -> int:
        with app.app_context():
            count = db.session.scalar(select(func.count()).select_from(EventDelivery)
                                      .where(EventDelivery.status == "pending"))
            db.session.remove()
        return count

    try:
        wait_for(lambda: log().count("Booting worker") == 2 and "delivery process" in log(), "the server started")
        first = sell("13800138001")
        wait_for(lambda: pending() == 0, "the first sale's reactions were delivered")
        assert class_of(app, first["customer_id"]) == (1, "new")  # the buyer's class, after the commit

        started = re.findall(r"reactions after the commit are delivered by process (\d+)", log())
        workers = set(re.findall(r"Booting worker with pid: (\d+)", log()))
        assert len(started) == 1, log()  # one for the two workers
        deliverer = int(started[0])
        assert str(deliverer) not in workers and alive(deliverer)
        with app.app_context():
            done = db.session.execute(select(EventDelivery.plugin, EventDelivery.status, EventDelivery.attempts)).all()
            db.session.remove()
        assert sorted(done) == [("core.classification", "done", 1)], done

        # The workers only wake it: while it is stopped, a sale's reactions wait for it.
        os.kill(deliverer, signal.SIGSTOP)
        try:
            waiting = sell("13800138003")
            time.sleep(1.5)
            assert pending() == 1 and class_of(app, waiting["customer_id"]) is None
        finally:
            os.kill(deliverer, signal.SIGCONT)
        wait_for(lambda: pending() == 0, "the reactions were delivered once it went on")
        assert class_of(app, waiting["customer_id"]) == (1, "new")

        # Killed: the master starts another, which delivers the next sale's reactions.
        os.kill(deliverer, signal.SIGKILL)
        wait_for(lambda: len(re.findall(r"delivered by process (\d+)", log())) == 2, "a new delivery process", 15)
        second_pid = int(re.findall(r"delivered by process (\d+)", log())[-1])
        assert second_pid != deliverer and alive(second_pid)
        assert f"the delivery process {deliverer} is gone" in log()
        second = sell("13800138002")
        wait_for(lambda: pending() == 0, "the second sale's reactions were delivered", 15)
        assert class_of(app, second["customer_id"]) == (1, "new")
    finally:
        server.terminate()
        server.wait(60)
    # Stopped with the server: nothing of it is left running.
    last = re.findall(r"delivered by process (\d+)", log())[-1]
    assert f"delivery process {last} stopped" in log(), log()[-3000:]  # asked to stop, it finished its batch
    for pid in map(int, re.findall(r"delivered by process (\d+)", log())):
        assert not alive(pid), f"delivery process {pid} outlived the server"


def test_a_burst_of_commits_is_waited_out_before_delivering_but_never_for_longer_than_the_longest_wait():
    """The delivery process lets the tills finish a burst (no commit for `quiet` seconds) before
    it takes SQLite's write lock, so a burst's reactions go in a few large batches after it; under
    a stream that never pauses it still delivers, `longest` seconds after the first wake. Only
    lower bounds of the monotonic clock are asserted: it waited at least that long, and returned."""
    import threading

    from core.delivery_process import _settle

    read, write = os.pipe()
    os.set_blocking(read, False)
    stop = threading.Event()

    def stream():
        while not stop.is_set():
            os.write(write, b".")
            time.sleep(0.005)

    tills = threading.Thread(target=stream)
    tills.start()
    try:
        started = time.monotonic()
        _settle(read, quiet=0.05, longest=0.3)
        assert time.monotonic() - started >= 0.3  # the stream never paused: waited the longest wait, then went
    finally:
        stop.set()
        tills.join()
    os.write(write, b".")  # one more commit, then quiet
    started = time.monotonic()
    _settle(read, quiet=0.05, longest=10)
    assert time.monotonic() - started >= 0.05
    os.close(read)
    os.close(write)
