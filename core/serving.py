"""Serving the app: gunicorn (threads in each of several worker processes) in production,
werkzeug's development server only behind `storecrm run --dev` and for the demo.

gunicorn restarts its workers gracefully on SIGHUP (`kill -HUP $(cat PIDFILE)`: new workers
start, old ones finish their requests within --graceful-timeout), and writes one access-log
line per request through Python logging, where the personal-data masking of
core/privacy/masking_log.py applies to it as to every other record."""

from __future__ import annotations

import logging

ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'


def serve_dev(app, host: str, port: int) -> None:
    from werkzeug.serving import run_simple

    _start_ticker(app)
    run_simple(host, port, app, threaded=True, use_reloader=False)


def serve_production(app, *, host: str, port: int, workers: int, threads: int, graceful_timeout: int,
                     pidfile: str | None = None, access_log: bool = True) -> None:
    """Run gunicorn in this process (its master). Each worker builds its own app (its own
    database connections); this process's `app` only runs the in-process periodic jobs when
    there is no Redis, so they run once, not once per worker."""
    from gunicorn.app.base import BaseApplication

    from core.privacy.masking_log import install_log_masking

    install_log_masking()
    with app.app_context():
        from core.extensions import db

        db.engine.dispose()  # no connection of this process is shared with the forked workers
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
        "when_ready": lambda server: _start_ticker(app),
        "post_worker_init": lambda worker: install_log_masking(),
    }

    class StorecrmServer(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                if value is not None and key in self.cfg.settings:  # a setting older gunicorns lack is skipped
                    self.cfg.set(key, value)

        def load(self):
            import contextvars

            from core.app import create_app

            # Built outside the app context the command pushed in this (forked) process.
            return contextvars.Context().run(create_app)

    StorecrmServer().run()


def _start_ticker(app) -> None:
    from core.jobs import InProcessTicker

    if not app.config.get("REDIS_URL"):
        InProcessTicker(app).start()
        logging.getLogger(__name__).info("periodic jobs run in this process (no STORECRM_REDIS_URL)")
