"""The benchmark's HTTP server: the real app plus the floor endpoint, in its own process.

Served by gunicorn, the production server: one worker process with 16 threads (`gthread`,
one per till) and HTTP/1.1 keep-alive, so a till's connection carries all its sales. The same
server serves the app and the floor, so their ratio is fair. `/bench/stats` reports the
SQL statements executed since the last reset and this process's peak memory.

    python -m bench.server CONFIG_JSON PORT
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import threading
import time

from flask import jsonify, request
from sqlalchemy import event


def build(config: dict):
    from bench.floor import bp
    from core.app import create_app
    from core.extensions import db

    app = create_app(config)
    app.register_blueprint(bp)
    counter = {"statements": 0}
    lock = threading.Lock()

    with app.app_context():
        @event.listens_for(db.engine, "before_cursor_execute")
        def _count(conn, cursor, statement, parameters, context, executemany):
            with lock:
                counter["statements"] += 1

    @app.get("/bench/stats")
    def stats():
        out = {"statements": counter["statements"],
               "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
        if request.args.get("reset"):
            counter["statements"] = 0
        return jsonify(out)

    return app


def main() -> None:
    from gunicorn.app.base import BaseApplication

    from core.delivery_process import DeliveryProcess
    from core.serving import delivery_hooks, run_arbiter

    config = json.loads(open(sys.argv[1]).read())
    port = int(sys.argv[2])
    # One process, so /bench/stats counts every statement. BENCH_SERVER_WORKERS=2 splits the
    # threads over two, as `storecrm run` does by default (the statements are then one worker's).
    workers = int(os.environ.get("BENCH_SERVER_WORKERS", "1"))
    parent = os.getppid()
    # As `storecrm run` does without Redis: a process of the server's delivers the reactions after
    # the commit, woken by each commit (with Redis, the benchmark runs a `storecrm worker`).
    delivery = None if config.get("REDIS_URL") else DeliveryProcess(lambda: build(config))

    class BenchServer(BaseApplication):
        def load_config(self):
            for key, value in {"bind": f"127.0.0.1:{port}", "workers": workers, "worker_class": "gthread",
                               "threads": THREADS // workers, "keepalive": 75, "timeout": 600, "accesslog": None,
                               "loglevel": "warning", "control_socket_disable": True,
                               "post_worker_init": lambda worker: _ready(worker, delivery),
                               **delivery_hooks(delivery)}.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self):
            return build(config)

        def run(self):
            run_arbiter(self, delivery)

    def orphaned():  # the benchmark that started us is gone: do not linger
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=orphaned, daemon=True).start()
    BenchServer().run()


THREADS = 16  # one per till of the benchmark


def _ready(worker, delivery) -> None:
    if delivery is not None:
        delivery.attach(worker.wsgi)
    gc.freeze()  # as a production worker does once started (core/serving.py warm_up)
    print("ready", flush=True)


if __name__ == "__main__":
    main()
