"""Jobs the fault tests enqueue; a separate `storecrm worker` process imports them."""

from __future__ import annotations

import os
import time

from sqlalchemy import exists, select

from core.extensions import db
from core.models import Activity, AuditLog, Customer


def note_sale(external_id: str) -> None:
    db.session.add(AuditLog(actor="fault-test", action="fault_job", target_type="sale", target_id=external_id,
                            details={"pid": os.getpid()}))
    db.session.commit()


def message_in_batches(run: str, batch: int = 10, pause: float = 0.25) -> int:
    """A long job written to be resumable: each batch messages customers who have no message
    of this run yet and commits; killed anywhere, a re-run skips what was committed and the
    uncommitted batch was rolled back, so no customer gets it twice and none is skipped."""
    sent = 0
    while True:
        done = exists().where(Activity.customer_id == Customer.id, Activity.kind == "message", Activity.title == run)
        ids = db.session.scalars(select(Customer.id).where(~done).order_by(Customer.id).limit(batch)).all()
        if not ids:
            return sent
        for customer_id in ids:
            db.session.add(Activity(customer_id=customer_id, kind="message", source="fault-test", title=run,
                                    data={"pid": os.getpid()}))
        db.session.commit()
        sent += len(ids)
        time.sleep(pause)


def periodic_note(store_id: int | None = None) -> None:
    """A periodic job that writes one row per run, naming its slot: what the periodic fault
    tests count (each slot's row exactly once)."""
    from core.scheduling import current_slot

    slot = current_slot()
    db.session.add(AuditLog(actor="fault-test", action="periodic_note", target_type=slot.job[:32], store_id=store_id,
                            target_id=f"{slot.scope}@{slot.at:%Y-%m-%dT%H:%M:%S}", details={"pid": os.getpid()}))
    db.session.commit()


def sleep_then_note(seconds: float, mark: str) -> None:
    """A long job: what a worker is running when it is killed."""
    time.sleep(seconds)
    db.session.add(AuditLog(actor="fault-test", action="slept", target_id=mark, details={"pid": os.getpid()}))
    db.session.commit()
