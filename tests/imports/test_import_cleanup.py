"""What is left of an import on disk and on the page: rejected rows encrypted and purged after
the retention, and runs whose worker died failed by the periodic job instead of spinning."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from core.extensions import db
from core.imports import stored
from core.imports.cleanup import WORKER_STOPPED, purge_expired_rejects, reap_stale_runs, tidy_imports_job
from core.jobs import collect_periodic_jobs
from core.models import ImportChunk, ImportRun, JobOutbox, Store, utcnow
from tests.admin.conftest import text
from tests.conftest import build_chain
from tests.imports.test_import_jobs import SAMPLE, listed, signed_in, upload


def imports_folder(app) -> Path:
    return Path(app.instance_path) / "imports"


def age(app, run_id: int, **delta) -> None:
    """Pretend the run finished / last moved `delta` ago."""
    with app.app_context():
        then = utcnow() - timedelta(**delta)
        db.session.execute(update(ImportRun).where(ImportRun.id == run_id)
                           .values(finished_at=then, progress_at=then, created_at=then))
        db.session.commit()


def test_rejected_rows_download_within_the_retention_and_are_purged_after_it(make_app):
    app = make_app(IMPORT_REJECTS_DAYS=7)
    build_chain(app)
    client = signed_in(app, "manager")
    upload(client, SAMPLE.read_bytes())
    [run] = listed(client)
    assert "Available until" in text(client.get("/admin/import/"))
    age(app, run["id"], days=6)
    with app.app_context():
        assert purge_expired_rejects(db.session) == 0
    assert "not a valid phone number: 12345" in client.get(run["rejects"]).get_data().decode("utf-8-sig")

    age(app, run["id"], days=7, minutes=1)
    # past the date the page promised, the download is refused even before the nightly purge ran
    assert client.get(run["rejects"]).status_code == 404
    with app.app_context():
        assert purge_expired_rejects(db.session) == 1
        assert db.session.get(ImportRun, run["id"]).rejects_path is None
        assert db.session.scalar(select(func.count()).select_from(ImportChunk)) == 0  # upload and rejects gone
    [after] = listed(client)
    assert after["rejects"] is None and after["rejected"] == 3  # the counts stay
    page = text(client.get("/admin/import/"))
    assert "The rejected rows are no longer available: they are deleted 7 days after the import." in page
    assert client.get(run["rejects"]).status_code == 404


def test_a_plaintext_rejects_file_an_older_version_kept_is_encrypted_then_purged(app):
    build_chain(app)
    with app.app_context():
        store = db.session.scalars(select(Store).where(Store.code == "SH001")).one()
        imports_folder(app).mkdir(exist_ok=True)
        (imports_folder(app) / "old.csv").write_text("会员卡号,手机号\nVIP9,13812345678\n", encoding="utf-8")
        (imports_folder(app) / "old.rejected.csv").write_text("line,field,reason\n2,phone,13812345678 taken\n",
                                                              encoding="utf-8-sig")
        run = ImportRun(store_id=store.id, kind="customers", file_name="old.csv", file_path="imports/old.csv",
                        status="done", rows_done=1, rejected=1, committed=True,
                        rejects_path="imports/old.rejected.csv", finished_at=utcnow())
        db.session.add(run)
        db.session.commit()
        run_id = run.id
        hours_ago = (utcnow() - timedelta(hours=2)).timestamp()
        for path in imports_folder(app).iterdir():
            os.utime(path, (hours_ago, hours_ago))
        # an upload saved this very moment, its row not committed yet, must survive
        (imports_folder(app) / "arriving.csv").write_bytes(SAMPLE.read_bytes())
        tidy_imports_job()
        kept = db.session.get(ImportRun, run_id).rejects_path
        assert kept.endswith(".enc")
        # the finished run's upload and the plaintext are gone
        assert sorted(p.name for p in imports_folder(app).iterdir()) == sorted([Path(kept).name, "arriving.csv"])
        assert b"13812345678" not in (Path(app.instance_path) / kept).read_bytes()
    client = signed_in(app, "manager")
    assert "13812345678 taken" in client.get(f"/admin/import/{run_id}/rejected").get_data().decode("utf-8-sig")


def test_the_reaper_fails_a_run_silent_too_long_and_leaves_a_fresh_one(make_app):
    app = make_app(IMPORT_STALE_HOURS=2)
    build_chain(app)
    client = signed_in(app, "manager")
    upload(client, SAMPLE.read_bytes(), name="stale.csv")
    upload(client, SAMPLE.read_bytes(), name="fresh.csv")
    fresh, stale = listed(client)
    with app.app_context():
        # what a worker killed with no retries left leaves: "running", its upload still there
        for run_id in (stale["id"], fresh["id"]):
            db.session.execute(update(ImportRun).where(ImportRun.id == run_id)
                               .values(status="running", finished_at=None, progress_at=utcnow()))
            stored.save_stream(db.session, run_id, "upload", io.BytesIO(SAMPLE.read_bytes()))
        db.session.commit()
    age(app, stale["id"], hours=2, minutes=1)
    with app.app_context():
        db.session.execute(update(ImportRun).where(ImportRun.id == stale["id"]).values(finished_at=None))
        db.session.execute(update(ImportRun).where(ImportRun.id == fresh["id"])
                           .values(progress_at=utcnow() - timedelta(hours=1, minutes=50)))
        db.session.commit()
        assert reap_stale_runs(db.session) == [stale["id"]]
        reaped, left = db.session.get(ImportRun, stale["id"]), db.session.get(ImportRun, fresh["id"])
        assert (reaped.status, reaped.error) == ("failed", WORKER_STOPPED) and reaped.finished_at is not None
        assert not stored.has_part(db.session, reaped.id, "upload")
        assert left.status == "running" and stored.has_part(db.session, left.id, "upload")
    rows = {r["id"]: r for r in listed(client)}
    assert rows[stale["id"]]["status"] == "failed"
    assert "the worker stopped; start the import again" in rows[stale["id"]]["status_text"]
    assert rows[fresh["id"]]["status"] == "running"
    # a late delivery of the reaped run's job finds nothing to import and says so
    from core.imports.jobs import run_import_job

    with app.app_context():
        db.session.execute(update(ImportRun).where(ImportRun.id == stale["id"]).values(status="queued"))
        db.session.commit()
        assert run_import_job(stale["id"]) == "failed"
        assert "no longer there" in db.session.get(ImportRun, stale["id"]).error


def test_a_run_parked_in_the_outbox_while_redis_is_down_is_not_reaped(make_app):
    app = make_app(REDIS_URL="redis://127.0.0.1:9/0")  # nothing listens there
    build_chain(app)
    client = signed_in(app, "manager")
    upload(client, SAMPLE.read_bytes())
    [run] = listed(client)
    age(app, run["id"], hours=5)
    with app.app_context():
        assert db.session.scalars(select(JobOutbox)).one().job_id == f"storecrm-import-{run['id']}"
        assert reap_stale_runs(db.session) == []
        assert db.session.get(ImportRun, run["id"]).status == "queued"


def test_the_reaper_and_the_retention_speak_chinese_and_run_periodically(make_app):
    app = make_app(LOCALE="zh_CN")
    build_chain(app)
    assert "core.imports_tidy" in [job.name for job in collect_periodic_jobs(app).jobs]
    client = signed_in(app, "manager")
    upload(client, SAMPLE.read_bytes(), name="a.csv")
    upload(client, SAMPLE.read_bytes(), name="b.csv")
    stuck, done = listed(client)
    assert "可下载至" in text(client.get("/admin/import/"))
    age(app, done["id"], days=30)
    age(app, stuck["id"], days=30)
    with app.app_context():
        db.session.execute(update(ImportRun).where(ImportRun.id == stuck["id"]).values(status="running"))
        db.session.commit()
        tidy_imports_job()
    page = text(client.get("/admin/import/"))
    assert "工作进程已停止；请重新开始导入" in page and "被拒绝的行已不可下载：导入 7 天后即删除。" in page
    assert "the worker stopped" not in page


def test_with_redis_a_run_whose_job_still_waits_is_left_and_one_whose_job_is_gone_is_failed(make_app, redis_server):
    import uuid

    app = make_app(REDIS_URL=redis_server.url, QUEUE_NAME=f"test-{uuid.uuid4().hex[:8]}")
    build_chain(app)
    client = signed_in(app, "manager")
    try:
        upload(client, SAMPLE.read_bytes())
        [run] = listed(client)
        age(app, run["id"], hours=3)
        with app.app_context():
            db.session.execute(update(ImportRun).where(ImportRun.id == run["id"]).values(finished_at=None))
            db.session.commit()
            assert reap_stale_runs(db.session) == []  # no worker yet, but the job waits in the queue
            app.extensions["storecrm.jobs"].connection().flushdb()  # Redis lost it (no persistence)
            assert reap_stale_runs(db.session) == [run["id"]]
        assert listed(client)[0]["status"] == "failed"
    finally:
        app.extensions["storecrm.jobs"].connection().flushdb()


@pytest.mark.parametrize("variable, value", [("STORECRM_IMPORT_REJECTS_DAYS", "a week"),
                                             ("STORECRM_IMPORT_STALE_HOURS", "0")])
def test_a_wrong_import_setting_stops_the_app_with_a_clear_message(tmp_path, variable, value, monkeypatch):
    from core.config import ConfigError, load_config
    from tests.conftest import DATA_KEY

    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_config(str(tmp_path), {"SECRET_KEY": "x", "DATA_KEY": DATA_KEY})
