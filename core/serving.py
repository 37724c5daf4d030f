"""Serving the app: gunicorn (threads in each of several worker processes) in production,
werkzeug's development server only behind `storecrm run --dev` and for the demo.

gunicorn restarts its workers gracefully on SIGHUP (`kill -HUP $(cat PIDFILE)`: new workers
start, old ones finish their requests within --graceful-timeout), and writes one access-log
line per request through Python logging, where the personal-data masking of
core/privacy/masking_log.py applies to it as to every other record, in the same format as every
other line (core/observability/logs.py).

Each worker counts its requests for /metrics in its own files under STORECRM_METRICS_DIR
(prometheus_client's multiprocess mode), emptied here before the first worker starts.

Without Redis, the master also runs one delivery process beside the workers for the reactions
after the commit (core/delivery_process.py)."""

from __future__ import annotations

import gc
import logging

from core.delivery_process import DeliveryProcess

ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'


def warm_up() -> None:
    """Once a serving process has built its app, before its first request."""
    from core.analytics.cache import warm_up as warm_forecast

    warm_forecast()  # the analytics page's first load should not pay for importing statsmodels
    # The app's ~300,000 objects live as long as the process. Left in the collector's sight,
    # each full collection walks them all: a 40-80 ms pause of every thread, which a till's
    # sale meeting it waits out. Frozen, a full collection walks only what came after.
    gc.freeze()


def serve_dev(app, host: str, port: int) -> None:
    from werkzeug.serving import run_simple

    _start_ticker(app)
    warm_up()
    run_simple(host, port, app, threaded=True, use_reloader=False)


def serve_production(app, *, host: str, port: int, workers: int, threads: int, graceful_timeout: int,
                     pidfile: str | None = None, access_log: bool = True) -> None:
    """Run gunicorn in this process (its master). Each worker builds its own app (its own
    database connections) and, when there is no Redis, runs the periodic scheduler: each slot
    is claimed once in the database, so the jobs run once, not once per worker. Not in the
    master: a thread running there while it forks workers could leave a child a lock it holds."""
    from gunicorn.app.base import BaseApplication

    from core.observability.logs import gunicorn_logger_class
    from core.privacy.masking_log import install_log_masking

    install_log_masking()
    _prepare_metrics_dir(app.config["METRICS_DIR"])
    with app.app_context():
        from core.extensions import db

        db.engine.dispose()  # no connection of this process is shared with the forked workers
    delivery = None if app.config.get("REDIS_URL") else DeliveryProcess(_build_app)
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "graceful_timeout": graceful_timeout,
        "timeout": 60,
        "accesslog": "-" if access_log else None,
        "access_log_format": ACCESS_LOG_FORMAT,
        "errorlog": "-",
        "pidfile": pidfile,
        # gunicorn >= 25 opens a control socket under ~/.gunicorn; signals are all we use.
        "control_socket_disable": True,
        "post_worker_init": lambda worker: (install_log_masking(), warm_up(), _start_ticker(worker.wsgi, delivery)),
        "child_exit": _forget_worker_metrics,
        "logger_class": gunicorn_logger_class(),
        **delivery_hooks(delivery),
    }

    class StorecrmServer(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                if value is not None and key in self.cfg.settings:  # a setting older gunicorns lack is skipped
                    self.cfg.set(key, value)

        def load(self):
            return _build_app()

        def run(self):
            run_arbiter(self, delivery)

    StorecrmServer().run()


def _build_app():
    import contextvars

    from core.app import create_app

    # Built outside the app context the command pushed in this (forked) process.
    return contextvars.Context().run(create_app)


def delivery_hooks(delivery) -> dict:
    """gunicorn options that run `delivery` (a DeliveryProcess, or None with Redis) beside the
    workers: forked by the master before the workers, stopped when the server stops."""
    if delivery is None:
        return {}
    return {"when_ready": delivery.start, "on_exit": lambda server: delivery.stop()}


def run_arbiter(application, delivery) -> None:
    """gunicorn's master loop, which also starts the delivery process again should it die."""
    import sys

    from gunicorn.arbiter import Arbiter

    class StorecrmArbiter(Arbiter):
        def manage_workers(self):
            super().manage_workers()
            if delivery is not None:
                delivery.ensure_running()

    try:
        StorecrmArbiter(application).run()
    except RuntimeError as exc:  # as gunicorn's own run(): a bad setting
        print(f"\nError: {exc}\n", file=sys.stderr)
        sys.exit(1)


def _prepare_metrics_dir(folder: str) -> None:
    """Point prometheus_client's multiprocess mode at an empty `folder` before any worker forks
    (counts of an earlier run would otherwise be added to this one's)."""
    import os
    import shutil

    from core.observability.metrics import MULTIPROC_ENV

    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, mode=0o700)
    os.environ[MULTIPROC_ENV] = folder


def _forget_worker_metrics(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _start_ticker(app, delivery=None) -> None:
    """Without Redis, the serving process itself runs the periodic jobs, and the reactions after
    the commit are delivered after the answer is sent: by the server's delivery process, which
    each commit wakes (gunicorn), or by a thread of this process (the development server)."""
    from core.delivery import BackgroundDelivery
    from core.scheduling import PeriodicScheduler

    if not app.config.get("REDIS_URL"):
        if delivery is not None:
            delivery.attach(app)
        else:
            BackgroundDelivery.start_for(app)
        PeriodicScheduler(app).start()
        logging.getLogger(__name__).info("periodic jobs run in this process (no STORECRM_REDIS_URL)")
