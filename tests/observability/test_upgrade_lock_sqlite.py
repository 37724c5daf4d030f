"""On SQLite the upgrade lock is a file lock beside the database: an upgrade started while
another holds it waits (and says so), then finds nothing left to apply."""

from __future__ import annotations

import shutil
import threading

from tests.conftest import base_config


def test_an_upgrade_waits_for_the_one_holding_the_lock_then_finds_it_done(templates, tmp_path):
    from core.app import create_app
    from core.migrate import upgrade
    from core.migration_lock import upgrade_lock

    shutil.copy(templates["sqlite"], tmp_path / "shop.db")
    app = create_app(base_config(tmp_path, f"sqlite:///{tmp_path / 'shop.db'}"))
    holding, release, waited, results = threading.Event(), threading.Event(), threading.Event(), []

    def first():
        with upgrade_lock(app):
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=first)
    holder.start()
    assert holding.wait(30)
    second = threading.Thread(target=lambda: results.append(upgrade(app, on_wait=waited.set)))
    second.start()
    assert waited.wait(30), "the second upgrade did not notice the lock"
    second.join(0.5)
    assert second.is_alive() and results == []  # still waiting while the first holds the lock
    release.set()
    holder.join(30)
    second.join(30)
    assert results == [[]]  # nothing pending: "database was already up to date"
    assert (tmp_path / "shop.db.upgrade-lock").exists()
