"""A test plugin the server and worker processes load through an entry point (conftest.py).

FAULTPLUG_MODE in the process's environment says what its `sale_recorded` does:
- `raise`: writes an activity, then raises (the loyalty server is down);
- `ok`: writes the activity (once per sale: the delivery is what makes it once);
- `enqueue`: after the sale commits, enqueues `tests.faults.jobfuncs.note_sale` for it.
Its periodic jobs write one audit row per run (`tests.faults.jobfuncs.periodic_note`).
"""

from __future__ import annotations

import os

from sqlalchemy import event

from core.models import Activity
from core.plugins import Manifest, hookimpl, in_transaction


@hookimpl
@in_transaction  # it models a loyalty server: points are a reaction the till's answer needs
def sale_recorded(sale, ctx):
    mode = os.environ.get("FAULTPLUG_MODE", "ok")
    if mode == "enqueue":
        from core.jobs import jobs
        from tests.faults.jobfuncs import note_sale

        external_id = sale.external_id
        queue = jobs()
        # Jobs are enqueued after the commit, so the job finds what the sale wrote.
        event.listen(ctx.session(), "after_commit", lambda session: queue.enqueue(note_sale, external_id), once=True)
        return
    if sale.customer_id:
        ctx.session.add(Activity(customer_id=sale.customer_id, kind="note", source="faultplug",
                                 title=f"faultplug saw sale {sale.id}"))
        ctx.session.flush()
    if mode == "raise":
        raise ConnectionError("the loyalty server is down")


@hookimpl
def register_jobs(scheduler):
    from tests.faults.jobfuncs import periodic_note

    # Hourly and nightly as registered; the periodic fault tests shorten both with
    # STORECRM_JOB_SCHEDULE so that a test sees many slots in seconds.
    scheduler.every(periodic_note, seconds=3600, name="faultplug.tick")
    scheduler.cron(periodic_note, "0 3 * * *", name="faultplug.nightly", per_store=True)


manifest = Manifest(name="faultplug", version="1.0", summary="fails, heals or enqueues on demand", hooks=__name__)
