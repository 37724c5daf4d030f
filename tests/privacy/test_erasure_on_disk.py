"""An erasure leaves nothing on disk (issue 20): right after it commits, while the app still
holds its connections, no erased value is in the SQLite database file, its -wal or its -shm
(secure_delete zeroes freed content; the erasure checkpoints and truncates the WAL), nor in a
PostgreSQL dump."""

from __future__ import annotations

import os
import subprocess

from tests.conftest import Api, BUNDLED, build_chain
from tests.privacy.helpers import PERSON, make_person, personal_needles


def test_no_erased_value_is_left_in_the_database_files_or_a_dump(make_app, backend):
    from core.backup import _libpq_uri, _pg_tool
    from core.extensions import db

    app = make_app()
    chain = build_chain(app)
    ids = make_person(app, chain, plugins=BUNDLED)
    with app.app_context():
        url = db.engine.url

    def blobs() -> list[bytes]:
        if backend == "sqlite":
            paths = [url.database, url.database + "-wal", url.database + "-shm"]
            assert os.path.exists(url.database + "-wal"), "the app runs in WAL mode"
            return [open(path, "rb").read() for path in paths if os.path.exists(path)]
        dump = subprocess.run([_pg_tool("pg_dump"), "--data-only", "--dbname", _libpq_uri(url)],
                              capture_output=True, check=True)
        return [dump.stdout]

    # The scan sees the person before: in the database file or its write-ahead log.
    before = b"".join(blobs())
    assert PERSON["renamed"].encode() in before and PERSON["wechat_id"].encode() in before
    r = Api(app.test_client()).delete(f"/customers/{ids['id']}", token=chain.manager_token)
    assert r.status_code == 200, r.json
    after = blobs()  # the app's connections are still open: no dispose, no shutdown checkpoint
    assert after and any(b"LATTE-M" in blob for blob in after), "the scan must see plain data where it is"
    left = [(needle, i) for i, blob in enumerate(after) for needle in personal_needles()
            if needle.encode() in blob or needle.lower().encode() in blob.lower()]
    assert left == []
