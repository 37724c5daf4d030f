"""Job functions the tests enqueue; importable by a separate `storecrm worker` process."""

from __future__ import annotations

import os

from core.extensions import db
from core.models import Activity, AuditLog


def write_activity(customer_id: int, title: str) -> int:
    row = Activity(customer_id=customer_id, kind="note", title=f"{title} (pid {os.getpid()})")
    db.session.add(row)
    db.session.commit()
    return row.id


def periodic_tick() -> None:
    db.session.add(AuditLog(actor="system", action="test_tick", details={"pid": os.getpid()}))
    db.session.commit()
