"""Without Redis, under gunicorn: one process of the server delivers the reactions after the commit.

The workers answer the tills; a commit only wakes this process (a byte on a pipe), which then
delivers every pending reaction in batches (`core.delivery.deliver`), as an rq worker does with
Redis. In a process of its own it runs on the other core instead of sharing the workers'
interpreter lock, so a till's answer does not queue behind a batch of reactions, and a server
of several workers has one deliverer, so a customer's reactions keep their order.

The master forks it before the workers (gunicorn's `when_ready`), forks it again within a second
should it die, and stops it when the server stops; it also dies with the master
(`die_with_parent`). Nothing is lost meanwhile: what stays pending, the workers' periodic sweep
delivers (`core.delivery.sweep_outbox`). The single-process development server keeps its
thread (`core.delivery.BackgroundDelivery`)."""

from __future__ import annotations

import gc
import logging
import os
import select
import signal
import time
from typing import Callable

log = logging.getLogger(__name__)

# The master's signals (gunicorn queues them for its own loop): this process takes the defaults.
MASTER_SIGNALS = ("SIGHUP", "SIGQUIT", "SIGINT", "SIGTERM", "SIGTTIN", "SIGTTOU", "SIGUSR1", "SIGUSR2", "SIGWINCH",
                  "SIGCHLD")
# It waits for SQLite's write lock in SQLite's own busy handler, which backs off while the tills
# write; queued with them on a file lock it took turns at once, and the tills' sales with every
# plugin went from ×2.4 their floor to ×3.1 (bench/). Not niced: it holds that lock while it
# delivers, and a holder starved of CPU would keep the tills waiting.
PAUSE = 0.005  # seconds between two batches: a till waiting for SQLite's write lock takes it then
# Woken by a commit, it first lets the tills finish: it delivers once no commit came for QUIET
# seconds, or LONGEST seconds after the first wake under a steady stream of sales. A burst of
# sales (or an offline batch's chunks, committed a few tenths of a second apart) is then
# delivered in a few large batches after it (a roll-up and a class update per customer once per
# batch) rather than in many small ones taking SQLite's write lock between them. Measured with
# bench/ (SQLite, every plugin, sale / offline batch): at once ×3.17 / ×2.46 the floor; 50 ms and
# 1 s ×1.97, ×1.96, ×1.93 / ×1.71, ×1.76, ×2.06; 0.2 s and 2 s ×1.88, ×1.79 / ×1.84, ×1.96;
# 0.5 s and 2 s ×1.84 / ×1.6.
QUIET = 0.5
LONGEST = 2.0
STOP_WAIT = 30.0  # seconds the master waits for the last batch when the server stops
RESTART_PAUSE = 1.0  # seconds between two starts, should it die at once every time


class PipeWaker:
    """What a worker holds in place of a delivery thread: `wake()` after each commit writes one
    byte to the delivery process's pipe. Never blocks: a full pipe already holds a wake."""

    def __init__(self, write_fd: int):
        self.write_fd = write_fd

    def wake(self) -> None:
        try:
            os.write(self.write_fd, b".")
        except (BlockingIOError, BrokenPipeError):
            pass


class DeliveryProcess:
    """Created and started in gunicorn's master; `attach(app)` in each worker."""

    def __init__(self, build_app: Callable[[], object]):
        self.build_app = build_app
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)  # shared by every worker: a full pipe must not block a till
        self.pid: int | None = None
        self._started_at = 0.0
        self._close_in_child: list = []

    def attach(self, app) -> None:
        """In a worker: its commits wake this process instead of delivering themselves."""
        from core.delivery import BACKGROUND_KEY

        app.extensions[BACKGROUND_KEY] = PipeWaker(self._write)

    # --- in the master ------------------------------------------------------------------------

    def start(self, server=None) -> None:
        """Fork the delivery process (`server`: gunicorn's arbiter, whose sockets it closes)."""
        if server is not None:
            self._close_in_child = [*getattr(server, "LISTENERS", []), *getattr(server, "PIPE", [])]
        self._started_at = time.monotonic()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                self._serve(parent)
            except BaseException:  # noqa: BLE001 - a child of the master never returns into its code
                log.exception("the delivery process stopped on an error")
                code = 1
            finally:
                os._exit(code)
        self.pid = pid
        log.info("reactions after the commit are delivered by process %s (no STORECRM_REDIS_URL)", pid)

    def ensure_running(self) -> None:
        """Called from the master's loop: start it again if it died (the master reaped it)."""
        if self.pid is None or _alive(self.pid):
            return
        if time.monotonic() - self._started_at < RESTART_PAUSE:
            return
        log.warning("the delivery process %s is gone; starting another", self.pid)
        self.start()

    def stop(self) -> None:
        """Ask it to finish its batch and go; killed if it has not after STOP_WAIT seconds."""
        pid, self.pid = self.pid, None
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + STOP_WAIT
        while time.monotonic() < deadline:
            try:
                done, _status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # the master's loop reaped it already
                return
            if done:
                return
            time.sleep(0.05)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    # --- in the delivery process ---------------------------------------------------------------

    def _serve(self, parent: int) -> None:
        from core.delivery import deliver
        from core.worker import die_with_parent

        die_with_parent(parent)
        for name in MASTER_SIGNALS:
            signal.signal(getattr(signal, name), signal.SIG_DFL)
        stopping: list[int] = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the master stops us
        for item in self._close_in_child:
            try:
                item.close() if hasattr(item, "close") else os.close(item)
            except OSError:
                pass
        os.close(self._write)
        os.set_blocking(self._read, False)
        app = self.build_app()
        gc.freeze()  # the app's objects out of the collector's sight (core/serving.py warm_up)
        log.info("delivery process %s started", os.getpid())
        while not stopping:  # the first round delivers what was committed before it started
            _settle(self._read, QUIET, LONGEST)
            _drain(self._read)  # before delivering: a commit from now on wakes us again
            try:
                with app.app_context():
                    deliver(pause=PAUSE)
            except Exception:  # noqa: BLE001 - live on: what stays pending is delivered next time or swept
                log.exception("delivering reactions failed; they stay pending")
                time.sleep(RESTART_PAUSE)
            while not stopping and not select.select([self._read], [], [], 1.0)[0]:
                pass  # woken by a commit; the timeout only lets a stop signal end the wait
        log.info("delivery process %s stopped", os.getpid())


def _settle(fd: int, quiet: float, longest: float) -> None:
    """Return once no wake came on `fd` for `quiet` seconds, or after `longest` seconds."""
    deadline = time.monotonic() + longest
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], min(quiet, left))[0]:
            return
        _drain(fd)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 65536):
            pass
    except BlockingIOError:
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
