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
