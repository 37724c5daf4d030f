"""Operators' logs and request ids: every response carries an X-Request-Id (the caller's, when
it is a plain token, else a new one), errors included; JSON log lines parse and carry that id,
the level and a UTC time, with phones masked in every field, tracebacks included; a log file
written by werkzeug's own server (which colours status codes) holds no escape sequence."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import urllib.request
from datetime import datetime

import pytest

from core.observability.logs import configure_logging

TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) \[\d+\] \[[^\]]+\] \S+: ")


@pytest.fixture
def sqlite_app(templates, tmp_path):
    """The log format does not depend on the database: one backend, SQLite."""
    import shutil

    from core.app import create_app
    from core.extensions import db
    from tests.conftest import base_config

    shutil.copy(templates["sqlite"], tmp_path / "shop.db")
    app = create_app(base_config(tmp_path, f"sqlite:///{tmp_path / 'shop.db'}"))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def log_to(request):
    """Route the root logger to a buffer in `fmt`, as the `storecrm` command does; undone after."""
    root = logging.getLogger()
    before = (list(root.handlers), root.level)

    def configure(fmt: str, stream=None):
        stream = stream or io.StringIO()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        configure_logging(fmt, "INFO", stream)
        return stream

    yield configure
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in before[0]:
        root.addHandler(handler)
    root.setLevel(before[1])
    logging.captureWarnings(False)


def _add_logging_route(app):
    from flask import current_app

    @app.get("/_test/log")
    def _log_something():
        current_app.logger.warning("the customer 13800138000 asked for a refund")
        try:
            raise ValueError("phone 13900139000 rejected")
        except ValueError:
            current_app.logger.exception("while checking")
        return "logged"


def test_every_answer_has_a_request_id_and_a_plain_incoming_one_is_kept(app):
    client = app.test_client()
    seen = set()
    for path in ("/healthz", "/api/v1/products", "/api/v1/no-such-thing", "/admin/login/", "/no-such-page"):
        answer = client.get(path)
        rid = answer.headers.get("X-Request-Id", "")
        assert re.fullmatch(r"[0-9a-f]{32}", rid), (path, answer.status_code, rid)
        seen.add(rid)
    assert len(seen) == 5  # a new one per request
    kept = client.get("/api/v1/products", headers={"X-Request-Id": "till-7:2026-11-30.0042"})
    assert kept.status_code == 401 and kept.headers["X-Request-Id"] == "till-7:2026-11-30.0042"
    for bad in ("x" * 129, "has space", "semi;colon", "<script>", "-leading-dash"):
        replaced = client.get("/healthz", headers={"X-Request-Id": bad}).headers["X-Request-Id"]
        assert re.fullmatch(r"[0-9a-f]{32}", replaced), (bad, replaced)
    refused = client.delete("/healthz", headers={"X-Request-Id": "wrong-method"})
    assert refused.status_code == 405 and refused.headers["X-Request-Id"] == "wrong-method"


def test_json_log_lines_parse_and_carry_request_id_level_time_and_masked_fields(sqlite_app, log_to):
    app = sqlite_app
    _add_logging_route(app)
    stream = log_to("json")
    answer = app.test_client().get("/_test/log", headers={"X-Request-Id": "req-13800138000"})
    assert answer.status_code == 200
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    mine = [line for line in lines if line["logger"] == "storecrm"]
    assert [line["level"] for line in mine] == ["WARNING", "ERROR"], lines
    for line in mine:
        assert line["pid"] > 0
        assert datetime.fromisoformat(line["time"].replace("Z", "+00:00")).utcoffset().total_seconds() == 0
        # The request id is masked like every field: a phone number sent as one is not logged.
        assert line["request_id"] == "req-138****8000" and answer.headers["X-Request-Id"] == "req-13800138000"
    assert mine[0]["message"] == "the customer 138****8000 asked for a refund"
    assert "ValueError: phone 139****9000 rejected" in mine[1]["exc"] and "13900139000" not in stream.getvalue()
    # Outside a request: "-".
    logging.getLogger("storecrm.test").warning("no request here")
    last = json.loads(stream.getvalue().splitlines()[-1])
    assert last["request_id"] == "-" and last["message"] == "no request here"


def test_a_log_file_of_werkzeugs_server_has_no_colour_codes_and_every_line_its_fields(sqlite_app, log_to, tmp_path):
    from werkzeug.serving import make_server

    app = sqlite_app
    _add_logging_route(app)
    path = tmp_path / "storecrm.log"
    with open(path, "w", encoding="utf-8") as file:
        log_to("text", file)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            for url in ("/healthz", "/_test/log", "/api/v1/products", "/no-such-page"):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{server.port}{url}", timeout=10).read()
                except urllib.error.HTTPError:
                    pass
        finally:
            server.shutdown()
        import warnings

        warnings.warn("a warning gets a time too", UserWarning, stacklevel=1)
    text = path.read_text(encoding="utf-8")
    assert "\x1b" not in text
    requests = [line for line in text.splitlines() if line.startswith("20") and "werkzeug" in line]
    assert len(requests) == 4 and any('"GET /no-such-page HTTP/1.1" 404' in line for line in requests), text
    for line in text.splitlines():
        if line.startswith((" ", "Traceback", "ValueError")):
            continue  # the traceback under its record
        assert TEXT_LINE.match(line), line
    assert "[req" not in text and re.search(r"WARNING \[\d+\] \[[0-9a-f]{32}\] storecrm: the customer 138\*\*\*\*8000", text)
    assert re.search(r"WARNING \[\d+\] \[-\] py\.warnings: .*a warning gets a time too", text)
