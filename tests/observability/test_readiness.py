"""/healthz and /readyz: ready on a current schema; 503 (with Retry-After, naming what is
missing) on a schema behind the code, which `run` and `worker` also refuse with the command to
run; the API during a database outage (a TCP relay to PostgreSQL that is cut, then restored):
503 in the error shape with Retry-After, one log line when it starts and one when it ends."""

from __future__ import annotations

import logging
import re
import socket
import threading

import pytest

from core.cli import cli
from tests.conftest import base_config
from tests.test_plugin_kit import without_membership_tables

LOGIN = "/admin/login"


def test_a_current_schema_is_ready_and_healthy(app):
    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    body = ready.get_json()
    assert body["ready"] is True
    assert body["checks"]["database"] == {"ok": True} and body["checks"]["migrations"] == {"ok": True}
    # Without Redis the periodic jobs run in the web process itself.
    assert body["checks"]["redis"] == {"ok": True, "configured": False}
    assert body["checks"]["scheduler"] == {"mode": "in-process", "leader": "in-process"}


def test_a_pending_migration_is_not_ready_and_run_and_worker_refuse_naming_the_command(app):
    without_membership_tables(app)
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "10"
    migrations = answer.get_json()["checks"]["migrations"]
    assert migrations["ok"] is False and list(migrations["pending"]) == ["membership"]
    assert migrations["pending"]["membership"][0] == "membership_0001"
    assert migrations["message"].endswith("run `storecrm db upgrade` first")
    assert answer.get_json()["checks"]["database"] == {"ok": True}
    runner = app.test_cli_runner()
    for command in (["run"], ["worker"]):
        # A Redis URL only: the worker refuses before it connects to anything.
        app.extensions["storecrm.jobs"].redis_url = "redis://127.0.0.1:1/0" if command == ["worker"] else None
        refused = runner.invoke(cli, command)
        assert refused.exit_code == 1, refused.output
        assert ("the database schema is not up to date: migrations of membership (5 migrations, membership_0001 to "
                "membership_0005_no_cfg_version)") in refused.output
        assert "run `storecrm db upgrade` first (or pass --allow-pending to start anyway)" in refused.output


class Relay:
    """A TCP relay in front of PostgreSQL: `cut()` closes its port and every connection through
    it (the database is gone, as in a restart); `restore()` listens on the same port again."""

    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.port = None
        self.links: list[socket.socket] = []
        self.listener = None
        self.restore()

    def restore(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port or 0))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(16)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.links += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        self.listener.close()
        for link in self.links:
            try:
                link.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            link.close()
        self.links = []


@pytest.mark.postgres_only
def test_a_database_outage_is_a_503_with_retry_after_and_one_log_line_each_way(postgres, templates, tmp_path, caplog):
    from tests.conftest import _missing, build_chain, postgres_copy

    if postgres is None:
        _missing("PostgreSQL")
    from core.app import create_app
    from core.extensions import db

    with postgres_copy(postgres, templates, "outage") as url:
        relay = Relay(postgres.port)
        app = create_app(base_config(tmp_path, url.replace(f":{postgres.port}/", f":{relay.port}/")))
        try:
            chain = build_chain(app)
            client = app.test_client()
            headers = {"Authorization": f"Bearer {chain.till}"}
            assert client.get("/api/v1/products", headers=headers).status_code == 200
            relay.cut()
            caplog.set_level(logging.INFO)
            caplog.clear()
            answers = [client.get("/api/v1/products", headers=headers) for _ in range(5)]
            answers.append(client.post("/api/v1/sales", json={"lines": [{"sku": "LATTE-M", "quantity": 1}]},
                                       headers=headers))
            for answer in answers:
                assert answer.status_code == 503, answer.get_data(as_text=True)
                assert answer.headers["Retry-After"] == "10"
                assert answer.get_json()["error"]["code"] == "service_unavailable"
                assert answer.headers["X-Request-Id"]
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.get_json()["checks"]["database"]["ok"] is False
            admin = client.post(LOGIN, data={"username": "manager", "password": "correct horse battery"})
            assert admin.status_code == 503 and admin.headers["Retry-After"] == "10"
            assert admin.get_data(as_text=True).startswith("服务暂时不可用")
            lines = [r for r in caplog.records if r.name == "storecrm.database"]
            assert len(lines) == 1, [r.getMessage() for r in lines]
            assert lines[0].levelname == "ERROR" and lines[0].getMessage().startswith("database unreachable")
            assert not any(r.exc_info for r in caplog.records), "no traceback per request"
            relay.restore()
            assert client.get("/api/v1/products", headers=headers).status_code == 200
            back = [r.getMessage() for r in caplog.records if r.name == "storecrm.database"][1:]
            # 6 API requests, the readiness probe and the sign-in page.
            assert len(back) == 1 and re.fullmatch(r"database reachable again after \d+ s; 8 request\(s\) were answered 503",
                                                   back[0]), back
        finally:
            relay.cut()
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def test_run_on_a_database_that_cannot_be_reached_says_so_in_one_line(tmp_path):
    from tests.services import free_port

    from core.app import create_app

    app = create_app(base_config(tmp_path, f"postgresql://nobody@127.0.0.1:{free_port()}/nothing"))
    refused = app.test_cli_runner().invoke(cli, ["run"])
    assert refused.exit_code == 1 and refused.exception.__class__ is SystemExit, refused.output
    assert refused.output.startswith("Error: the database cannot be reached (OperationalError: connection failed")
    assert refused.output.rstrip().endswith("check STORECRM_DATABASE_URL and that the database is running")


def test_an_older_release_on_a_schema_a_newer_one_upgraded_stays_ready(app):
    """Mid-way through a rolling deploy the new release's `db upgrade` ran; the old processes
    still running must neither refuse to restart nor leave the load balancer."""
    from sqlalchemy import text

    from core.extensions import db
    from core.migrate import pending_migrations

    with app.app_context():
        head = db.session.execute(text("SELECT version_num FROM alembic_version WHERE version_num LIKE 'core_%'")).scalar()
        db.session.execute(text("UPDATE alembic_version SET version_num = 'core_9999_from_the_future' "
                                "WHERE version_num = :head"), {"head": head})
        db.session.commit()
    assert pending_migrations(app) == []
    assert app.test_client().get("/readyz").status_code == 200
