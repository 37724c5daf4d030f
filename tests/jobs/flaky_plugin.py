"""A test plugin that the worker process finds through an entry point (see test_worker.py).

Its `sale_recorded` fails until the environment says FLAKY_PLUGIN_HEALED=1, which the test
sets only for the worker: the sale's delivery fails in the web process (it is marked
`@in_transaction`, so it runs there) and succeeds on the retry that the rq worker runs."""

from __future__ import annotations

import os

from core.models import Activity
from core.plugins import Manifest, hookimpl, in_transaction


@hookimpl
@in_transaction
def sale_recorded(sale, ctx):
    ctx.session.add(Activity(customer_id=sale.customer_id, kind="note", title=f"flaky saw sale {sale.id}"))
    ctx.session.flush()
    if os.environ.get("FLAKY_PLUGIN_HEALED") != "1":
        raise ConnectionError("the loyalty server is down")


@hookimpl
def register_jobs(scheduler):
    from tests.jobs.jobfuncs import periodic_tick

    scheduler.every(periodic_tick, seconds=3600)
    scheduler.cron(periodic_tick, "0 3 * * *", name="nightly tick")


manifest = Manifest(name="flaky", version="1.0", summary="fails until healed", hooks=__name__)
