"""The benchmark's HTTP server: the real app plus the floor endpoint, in its own process.

Served by werkzeug's threaded WSGI server speaking HTTP/1.1 keep-alive (one thread per
connection, so 16 tills are 16 threads). That is not a production server; it is the same
server for the app and for the floor, so their ratio is fair. `/bench/stats` reports the
SQL statements executed since the last reset and this process's peak memory.

    python -m bench.server CONFIG_JSON PORT
"""

from __future__ import annotations

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
    from werkzeug.serving import WSGIRequestHandler, make_server

    config = json.loads(open(sys.argv[1]).read())
    port = int(sys.argv[2])
    app = build(config)
    WSGIRequestHandler.protocol_version = "HTTP/1.1"  # keep-alive, as a till's HTTP client would

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=Quiet)
    parent = os.getppid()

    def orphaned():  # the benchmark that started us is gone: do not linger
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=orphaned, daemon=True).start()
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
