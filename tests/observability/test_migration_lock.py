"""Two `storecrm db upgrade` at once on an empty PostgreSQL database (two hosts deploying
together): both exit 0; one applies every migration, the other waits for it and reports the
database already up to date. Without the lock the second one died on a duplicate table."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import BUNDLED, DATA_KEY, _missing

STORECRM = str(Path(sys.executable).with_name("storecrm"))


@pytest.mark.postgres_only
def test_two_concurrent_upgrades_one_applies_the_other_waits_then_finds_it_done(postgres, tmp_path):
    if postgres is None:
        _missing("PostgreSQL")
    name = f"lock_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    admin = sa.create_engine(postgres.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORECRM_")}
    env.update({"STORECRM_DATABASE_URL": postgres.url(name), "STORECRM_DATA_KEY": DATA_KEY, "STORECRM_SECRET_KEY": "x",
                "STORECRM_ENV_FILE": str(tmp_path / "none"), "STORECRM_PLUGINS": ",".join(BUNDLED),
                "STORECRM_INSTANCE_PATH": str(tmp_path / "instance")})
    from core.migration_lock import ADVISORY_KEYS

    holder = sa.create_engine(postgres.url(name), isolation_level="AUTOCOMMIT")
    try:
        # A deploy's two upgrades at once, made certain to meet: the test holds the schema lock
        # until both wait for it (on a busy machine the second process may start only after the
        # first has finished), then lets them go: one applies, the other waits, then finds it done.
        with holder.connect() as lock:
            lock.execute(sa.text("SELECT pg_advisory_lock(:namespace, :key)"), ADVISORY_KEYS)
            runs = [subprocess.Popen([STORECRM, "db", "upgrade"], env=env, cwd=tmp_path, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
            deadline = time.time() + 120
            while time.time() < deadline and lock.execute(sa.text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).scalar() < 2:
                assert all(run.poll() is None for run in runs), [run.communicate() for run in runs]
                time.sleep(0.2)
            lock.execute(sa.text("SELECT pg_advisory_unlock(:namespace, :key)"), ADVISORY_KEYS)
        results = [(run.wait(180), *run.communicate()) for run in runs]
        assert [code for code, _out, _err in results] == [0, 0], results
        outs = sorted((out for _code, out, _err in results), key=len)
        assert outs[0] == "database was already up to date\n", results
        assert outs[1].startswith("applied core_0001") and outs[1].rstrip().endswith("migration(s) applied)"), outs[1]
        for _code, _out, err in results:
            assert "another `storecrm db upgrade` is running on this database; waiting for it to finish" in err
        assert "Traceback" not in "".join(err for _c, _o, err in results)
    finally:
        holder.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
