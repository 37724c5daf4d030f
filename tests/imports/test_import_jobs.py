"""The admin upload imported by a background job: in-process without Redis, through a real
Redis and a real `storecrm worker` process with it, parked in the outbox while Redis is down."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from core.extensions import db
from core.models import Customer, ImportChunk, ImportRun, JobOutbox, Store, User
from tests.admin.conftest import PASSWORD, login, text
from tests.conftest import BUNDLED, build_chain
from tests.data import CUSTOMERS_ZH

SAMPLE = Path(CUSTOMERS_ZH)  # 8 rows: 5 good, 3 rejected
ROOT = Path(__file__).resolve().parents[2]
STORECRM = str(Path(sys.executable).with_name("storecrm"))


def signed_in(app, username: str):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def upload(client, content: bytes, name: str = "会员名单.csv", kind: str = "customers", store: str = "SH001"):
    data = {"kind": kind, "store": store, "file": (io.BytesIO(content), name)}
    return client.post("/admin/import/", data=data, content_type="multipart/form-data")


def listed(client) -> list[dict]:
    """The imports table as a person reads it, newest first."""
    html = client.get("/admin/import/").get_data(as_text=True)
    rows = []
    for block in html.split('<tr data-import="')[1:]:
        row = block.split("</tr>")[0]
        cells = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        link = re.search(r'href="([^"]+/rejected)"', row)
        rows.append({"id": int(block.split('"')[0]), "status": re.search(r'data-status="(\w+)"', row).group(1),
                     "started": cells[0], "file": cells[1], "store": cells[3], "by": cells[4], "status_text": cells[5],
                     "rows": int(cells[6]), "created": int(cells[7]), "updated": int(cells[8]),
                     "rejected": int(cells[10].split()[0]), "rejects": link.group(1) if link else None})
    return rows


@pytest.fixture
def shop(app):
    build_chain(app)
    return app


def test_an_upload_is_recorded_imported_and_listed_with_counts_and_its_rejected_rows(shop):
    client = signed_in(shop, "manager")
    response = upload(client, SAMPLE.read_bytes())
    assert response.status_code == 302
    [run] = listed(client)
    assert (run["status"], run["file"], run["store"], run["by"]) == ("done", "会员名单.csv", "SH001", "Manager")
    assert (run["rows"], run["created"], run["updated"], run["rejected"]) == (8, 5, 0, 3)
    rejects = client.get(run["rejects"])
    assert rejects.status_code == 200 and "attachment" in rejects.headers["Content-Disposition"]
    body = rejects.get_data().decode("utf-8-sig")
    assert "not a valid phone number: 12345" in body and "already belongs to customer VIP0001" in body
    with shop.app_context():
        record = db.session.get(ImportRun, run["id"])
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 5
        # the upload (names, phones) was never on disk and is deleted once imported; only the
        # rejected rows stay, encrypted, in the database
        assert (record.file_path, record.rejects_path) == ("db:upload.csv", "db:rejects")
        assert not (Path(shop.instance_path) / "imports").exists()
        kept = db.session.execute(select(ImportChunk.part, ImportChunk.data)
                                  .where(ImportChunk.import_run_id == run["id"])).all()
        assert [part for part, _ in kept] == ["rejects"]
        for clear in ("12345", "VIP0001", "phone", "line,field,reason", "手机"):
            assert not [part for part, data in kept if clear.encode() in data]
        assert record.started_at <= record.finished_at and record.user.username == "manager"
        # stored in UTC, shown on the store's clock (Shanghai)
        assert run["started"] == record.created_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")


def test_a_rerun_after_a_worker_died_updates_the_same_customers_instead_of_duplicating(shop):
    from core.imports.jobs import run_import_job

    client = signed_in(shop, "manager")
    upload(client, SAMPLE.read_bytes())
    [run] = listed(client)
    with shop.app_context():
        phones_before = sorted(c.phone for c in db.session.scalars(select(Customer)))
        # What a worker killed mid-file leaves behind (the upload is deleted only once the run
        # finished); rq hands the job to another worker.
        from core.imports import stored

        db.session.execute(update(ImportRun).values(status="running", finished_at=None))
        stored.save_stream(db.session, run["id"], "upload", io.BytesIO(SAMPLE.read_bytes()))
        db.session.commit()
        assert run_import_job(run["id"]) == "done"
        assert sorted(c.phone for c in db.session.scalars(select(Customer))) == phones_before
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 5
        record = db.session.get(ImportRun, run["id"])
        assert (record.created, record.updated, record.rejected, record.attempts) == (0, 5, 3, 2)
        # a duplicate delivery of a finished job does nothing
        assert run_import_job(run["id"]) == "done"
        assert db.session.get(ImportRun, run["id"]).attempts == 2
        assert db.session.scalars(select(ImportChunk.part).where(ImportChunk.import_run_id == run["id"])).all() \
            == ["rejects"]
    assert listed(client)[0]["updated"] == 5


def test_only_managers_and_owners_of_the_store_start_or_see_imports(shop):
    with shop.app_context():
        bj = db.session.scalars(select(Store).where(Store.code == "BJ001")).one()
        other = User(username="bjmanager", role="manager", display_name="BJ", stores=[bj])
        other.set_password(PASSWORD)
        db.session.add(other)
        db.session.commit()
    manager = signed_in(shop, "manager")
    upload(manager, SAMPLE.read_bytes())
    [run] = listed(manager)
    staff = signed_in(shop, "alice")
    assert staff.get("/admin/import/").status_code == 403
    assert upload(staff, SAMPLE.read_bytes()).status_code == 403
    assert staff.get(run["rejects"]).status_code == 403
    stranger = signed_in(shop, "bjmanager")
    assert listed(stranger) == []
    assert stranger.get(run["rejects"]).status_code == 404
    refused = upload(stranger, SAMPLE.read_bytes(), store="SH001")
    assert "Choose one of your stores." in text(refused)
    assert [r["id"] for r in listed(signed_in(shop, "owner"))] == [run["id"]]
    with shop.app_context():
        assert db.session.scalar(select(func.count()).select_from(ImportRun)) == 1


def test_a_file_without_known_columns_fails_with_the_reason_and_a_wrong_type_is_refused(shop):
    client = signed_in(shop, "manager")
    upload(client, "颜色,尺寸\n红,M\n".encode())
    [run] = listed(client)
    assert run["status"] == "failed" and "no customer columns found" in run["status_text"]
    with shop.app_context():
        # failed for good: the upload is deleted too
        assert db.session.scalar(select(func.count()).select_from(ImportChunk)) == 0
    refused = upload(client, b"hello", name="notes.txt")
    assert refused.status_code == 200 and "The file must be CSV or XLSX." in text(refused)
    assert len(listed(client)) == 1
    assert not (Path(shop.instance_path) / "imports").exists()


def test_the_import_page_speaks_chinese(make_app):
    app = make_app(LOCALE="zh_CN")
    build_chain(app)
    client = signed_in(app, "manager")
    upload(client, SAMPLE.read_bytes())
    page = text(client.get("/admin/import/"))
    assert "导入记录" in page and "已完成" in page and "下载被拒绝的行" in page


def run_worker(app, cwd: Path, instance_path: str) -> subprocess.CompletedProcess:
    env = {**os.environ,
           "STORECRM_DATABASE_URL": app.config["DATABASE_URL"], "STORECRM_REDIS_URL": app.config["REDIS_URL"],
           "STORECRM_DATA_KEY": app.config["DATA_KEY"], "STORECRM_SECRET_KEY": app.config["SECRET_KEY"],
           "STORECRM_PLUGINS": ",".join(BUNDLED) or "-", "STORECRM_PLUGINS_STRICT": "1",
           "STORECRM_QUEUE": app.config["QUEUE_NAME"], "STORECRM_INSTANCE_PATH": instance_path,
           "PYTHONPATH": str(ROOT)}
    result = subprocess.run([STORECRM, "worker", "--burst"], env=env, cwd=str(cwd), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_with_redis_the_upload_waits_queued_until_a_worker_on_another_host_imports_it(make_app, redis_server,
                                                                                     tmp_path):
    app = make_app(REDIS_URL=redis_server.url, QUEUE_NAME=f"test-{uuid.uuid4().hex[:8]}")
    build_chain(app)
    client = signed_in(app, "manager")
    try:
        assert upload(client, SAMPLE.read_bytes()).status_code == 302
        [run] = listed(client)
        assert (run["status"], run["created"]) == ("queued", 0)
        assert 'data-reload-after' in client.get("/admin/import/").get_data(as_text=True)  # the page follows it (admin.js)
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Customer)) == 0
            assert app.extensions["storecrm.jobs"].queue().count == 1
        # Another host: its own working directory and instance folder, no disk shared with the web.
        other_host = tmp_path / "worker-host"
        other_host.mkdir()
        run_worker(app, other_host, str(other_host / "instance"))
        [run] = listed(client)
        assert (run["status"], run["rows"], run["created"], run["updated"], run["rejected"]) == ("done", 8, 5, 0, 3)
        assert "not a valid phone number: 12345" in client.get(run["rejects"]).get_data().decode("utf-8-sig")
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Customer)) == 5
        assert not (other_host / "instance" / "imports").exists() and not (tmp_path / "instance" / "imports").exists()
    finally:
        app.extensions["storecrm.jobs"].connection().flushdb()


def test_while_redis_is_down_the_import_is_parked_in_the_outbox_not_lost(make_app):
    app = make_app(REDIS_URL="redis://127.0.0.1:9/0")  # nothing listens there
    build_chain(app)
    client = signed_in(app, "manager")
    assert upload(client, SAMPLE.read_bytes()).status_code == 302
    [run] = listed(client)
    assert run["status"] == "queued"
    with app.app_context():
        parked = db.session.scalars(select(JobOutbox)).one()
        assert (parked.path, parked.args, parked.job_id) == ("core.imports.jobs.run_import_job", [run["id"]],
                                                            f"storecrm-import-{run['id']}")
