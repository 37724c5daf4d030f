"""The `storecrm` command: each command through the real click group (the app built from the
environment, as in production), and a clear message for every bad argument."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from core.cli import cli
from core.plugins import Manifest, hookimpl
from tests.conftest import BUNDLED, DATA_KEY, Api

STORECRM = str(Path(sys.executable).with_name("storecrm"))


class Nothing:
    @hookimpl
    def plugin_enabled(self, store, ctx):
        pass


base_manifest = Manifest(name="clibase", version="1.0", summary="a base module", hooks=Nothing())
child_manifest = Manifest(name="clichild", version="2.0", summary="needs the base", hooks=Nothing(), depends=("clibase",))


@pytest.fixture
def storecrm(database_url, tmp_path, monkeypatch):
    """Run `storecrm ARGS` in-process against this test's database; returns (exit code, output)."""
    site = tmp_path / "site" / "storecrm_cli_test-1.0.dist-info"
    site.mkdir(parents=True)
    (site / "METADATA").write_text("Metadata-Version: 2.1\nName: storecrm-cli-test\nVersion: 1.0\n")
    (site / "entry_points.txt").write_text("[storecrm.plugins]\nclibase = tests.test_cli:base_manifest\n"
                                           "clichild = tests.test_cli:child_manifest\n"
                                           "clibroken = tests.no_such_module_anywhere:manifest\n")
    monkeypatch.syspath_prepend(str(site.parent))
    for key, value in {"STORECRM_DATABASE_URL": database_url, "STORECRM_DATA_KEY": DATA_KEY,
                       "STORECRM_SECRET_KEY": "cli-test", "STORECRM_INSTANCE_PATH": str(tmp_path / "instance"),
                       "STORECRM_PLUGINS": ",".join([*BUNDLED, "clibase", "clichild"]), "STORECRM_PLUGINS_STRICT": "1",
                       "STORECRM_ENV_FILE": str(tmp_path / "none.env")}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("STORECRM_REDIS_URL", raising=False)
    runner = CliRunner()

    def run(*args, input=None):
        result = runner.invoke(cli, list(args), input=input)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.output

    return run


def test_keys_generate_prints_a_usable_data_key(storecrm):
    code, out = storecrm("keys", "generate")
    assert code == 0
    Fernet(out.strip().encode())  # a valid key


def test_stores_users_and_tokens(storecrm, database_url, make_app):
    assert storecrm("db", "upgrade") == (0, "database was already up to date\n")
    assert storecrm("stores", "create", "SH001", "上海南京路店") == (0, "store SH001 created\n")
    assert storecrm("stores", "create", "HK001", "香港店", "--timezone", "Asia/Hong_Kong", "--currency", "hkd")[0] == 0
    code, out = storecrm("stores", "list")
    assert code == 0 and out.splitlines() == ["HK001\t香港店\tAsia/Hong_Kong", "SH001\t上海南京路店\tAsia/Shanghai"]
    code, out = storecrm("stores", "create", "SH001", "again")
    assert code == 1 and "a store with code 'SH001' exists already" in out
    code, out = storecrm("stores", "create", "GZ001", "广州", "--timezone", "Asia/Canton-ish")
    assert code == 1 and "--timezone: unknown time zone 'Asia/Canton-ish'" in out

    assert storecrm("users", "create", "alice", "--store", "SH001", "--password", "correct horse battery")[0] == 0
    code, out = storecrm("users", "create", "bob", "--role", "manager", "--password", "correct horse battery")
    assert code == 1 and "--store: a manager or staff member works in at least one store" in out
    code, out = storecrm("users", "create", "bob", "--store", "XX999", "--password", "correct horse battery")
    assert code == 1 and "no store with code 'XX999'" in out
    code, out = storecrm("users", "create", "carol", "--store", "SH001", "--password", "short")
    assert code == 1 and "at least 8 characters" in out
    code, out = storecrm("users", "create", "alice", "--store", "SH001", "--password", "correct horse battery")
    assert code == 1 and "user 'alice' exists already" in out
    code, out = storecrm("users", "create", "boss", "--role", "owner", input="correct horse battery\ncorrect horse battery\n")
    assert code == 0 and "user boss (owner) created" in out

    code, till = storecrm("tokens", "create", "--store", "SH001", "--name", "till 1")
    assert code == 0 and till.startswith("scrm_")
    code, personal = storecrm("tokens", "create", "--user", "alice")
    assert code == 0
    code, out = storecrm("tokens", "create", "--user", "nobody")
    assert code == 1 and "--user: no user 'nobody'" in out
    code, out = storecrm("tokens", "create")
    assert code == 1 and "give exactly one of --store CODE or --user USERNAME" in out
    code, out = storecrm("tokens", "create", "--store", "SH001", "--user", "alice")
    assert code == 1 and "give exactly one" in out
    # the printed tokens work
    api = Api(make_app().test_client())
    assert [s["code"] for s in api.get("/stores", token=till.strip()).json] == ["SH001"]
    assert [s["code"] for s in api.get("/stores", token=personal.strip()).json] == ["SH001"]


def test_plugins_list_enable_disable_with_dependencies(storecrm):
    storecrm("stores", "create", "SH001", "上海")
    code, out = storecrm("plugins", "list")
    assert code == 0
    assert "clibase 1.0 - a base module" in out and "clichild 2.0 - needs the base (depends on clibase)" in out
    code, out = storecrm("plugins", "enable", "clichild", "--store", "SH001")
    assert (code, out) == (0, "enabled in SH001: clibase, clichild\n")
    code, out = storecrm("plugins", "enable", "clichild", "--store", "SH001")
    assert (code, out) == (0, "enabled in SH001: clichild (already on)\n")
    code, out = storecrm("plugins", "list", "--store", "SH001")
    assert "on  clibase 1.0" in out and "on  clichild 2.0" in out
    code, out = storecrm("plugins", "disable", "clibase", "--store", "SH001")
    assert code == 1
    assert "clibase cannot be switched off in SH001: clichild depend(s) on it; switch those off first" in out
    assert storecrm("plugins", "disable", "clichild", "--store", "SH001") == (0, "disabled clichild in SH001\n")
    assert storecrm("plugins", "disable", "clichild", "--store", "SH001") == (0, "clichild was not on in SH001\n")
    assert storecrm("plugins", "disable", "clibase", "--store", "SH001")[0] == 0
    code, out = storecrm("plugins", "list", "--store", "SH001")
    assert "off clibase" in out and "off clichild" in out
    code, out = storecrm("plugins", "enable", "nosuch", "--store", "SH001")
    assert code == 1 and "no installed plugin named nosuch" in out
    code, out = storecrm("plugins", "enable", "clibase", "--store", "XX999")
    assert code == 1 and "no store with code 'XX999'" in out
    code, out = storecrm("plugins", "enable", "clibase")
    assert code == 2 and "Missing option '--store'" in out
    code, out = storecrm("plugins", "list", "--store", "XX999")
    assert code == 1 and "no store with code 'XX999'" in out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_storecrm_run_serves_the_app_built_from_the_environment(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORECRM_")}
    env.update({"STORECRM_DATA_KEY": DATA_KEY, "STORECRM_SECRET_KEY": "run-test", "STORECRM_ENV_FILE": str(tmp_path / "x"),
                "STORECRM_DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}", "STORECRM_PLUGINS": ",".join(BUNDLED) or "-",
                "STORECRM_INSTANCE_PATH": str(tmp_path / "instance")})
    # On a database that is not migrated yet it refuses to start, naming the command to run.
    refused = subprocess.run([STORECRM, "run"], env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "run `storecrm db upgrade` first" in refused.stderr, refused.stderr
    subprocess.run([STORECRM, "db", "upgrade"], env=env, cwd=str(tmp_path), check=True, capture_output=True, timeout=120)
    port = free_port()
    upgraded = subprocess.run([STORECRM, "db", "upgrade"], env=env, cwd=str(tmp_path), capture_output=True, text=True,
                              timeout=120)
    assert upgraded.returncode == 0, upgraded.stderr
    server = subprocess.Popen([STORECRM, "run", "--port", str(port), "--workers", "1", "--threads", "2"], env=env,
                              cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline, body = time.time() + 60, None
        while time.time() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2) as r:
                    body = r.read()
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()[-2000:]
                time.sleep(0.3)
        assert body and b'"openapi": "3.0.3"' in body.replace(b'":"', b'": "')
    finally:
        server.terminate()
        server.wait(30)
    log = server.stdout.read().decode()
    assert "gunicorn" in log and "Booting worker" in log  # the production server, not werkzeug's
    assert "development server" not in log
    assert '"GET /api/v1/openapi.json HTTP/1.1" 200' in log  # the access log
    # Operators' lines (core/observability/logs.py): UTC time, level, pid, the request's id; no colour.
    assert "\x1b" not in log
    assert re.search(r'^\d{4}-\d\d-\d\dT[\d:.]+Z INFO \[\d+\] \[[0-9a-f]{32}\] gunicorn\.access: .*"GET /api/v1/openapi', log,
                     re.M), log[-2000:]


def test_a_missing_key_is_a_clear_message_not_a_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORECRM_")}
    env.update({"STORECRM_SECRET_KEY": "x", "STORECRM_ENV_FILE": str(tmp_path / "x"),
                "STORECRM_DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}"})
    result = subprocess.run([STORECRM, "stores", "list"], env=env, cwd=str(tmp_path), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert "STORECRM_DATA_KEY is not set" in result.stderr and "storecrm keys generate" in result.stderr
    assert "Traceback" not in result.stderr
    # The help, the first thing a newcomer types, still lists the commands under that one line.
    helped = subprocess.run([STORECRM, "--help"], env=env, cwd=str(tmp_path), capture_output=True, text=True,
                            timeout=60)
    assert helped.returncode == 0 and "Traceback" not in helped.stderr, helped.stderr
    assert helped.stderr.startswith("Error: STORECRM_DATA_KEY is not set")
    assert re.search(r"^  stores\s", helped.stdout, re.M) and re.search(r"^  db\s", helped.stdout, re.M)


def test_a_plugin_that_fails_to_import_is_listed_as_failed_and_the_rest_still_works(storecrm, monkeypatch):
    monkeypatch.setenv("STORECRM_PLUGINS", ",".join([*BUNDLED, "clibase", "clibroken"]))
    monkeypatch.setenv("STORECRM_PLUGINS_STRICT", "0")
    code, out = storecrm("plugins", "list")
    assert code == 0 and "clibase 1.0 - a base module" in out
    assert "FAILED clibroken: ModuleNotFoundError: No module named 'tests.no_such_module_anywhere'" in out
    storecrm("stores", "create", "SH001", "上海")
    assert storecrm("plugins", "enable", "clibase", "--store", "SH001")[0] == 0
    code, out = storecrm("plugins", "enable", "clibroken", "--store", "SH001")
    assert code == 1 and "no installed plugin named clibroken" in out


def test_strict_mode_stops_with_a_message_naming_the_broken_plugin(tmp_path):
    site = tmp_path / "site" / "storecrm_broken-1.0.dist-info"
    site.mkdir(parents=True)
    (site / "METADATA").write_text("Metadata-Version: 2.1\nName: storecrm-broken\nVersion: 1.0\n")
    (site / "entry_points.txt").write_text("[storecrm.plugins]\nclibroken = tests.no_such_module_anywhere:manifest\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORECRM_")}
    env.update({"STORECRM_DATA_KEY": DATA_KEY, "STORECRM_SECRET_KEY": "x", "STORECRM_ENV_FILE": str(tmp_path / "x"),
                "STORECRM_DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}", "STORECRM_PLUGINS_STRICT": "1",
                "STORECRM_INSTANCE_PATH": str(tmp_path / "instance"), "PYTHONPATH": str(site.parent)})
    result = subprocess.run([STORECRM, "plugins", "list"], env=env, cwd=str(tmp_path), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Error: plugin 'clibroken' failed to load: ModuleNotFoundError" in result.stderr
    assert "Traceback" not in result.stderr
