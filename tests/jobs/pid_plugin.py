"""A test plugin whose reaction after the commit notes which process delivered it
(tests/test_after_commit.py: the rq worker drains the outbox itself, without forking)."""

from __future__ import annotations

import os

from core.models import Activity
from core.plugins import Manifest, hookimpl


@hookimpl
def sale_recorded(sale, ctx):
    ctx.session.add(Activity(customer_id=sale.customer_id, kind="note", title=f"delivered in process {os.getpid()}"))


manifest = Manifest(name="pidnote", version="1.0", summary="notes the delivering process", hooks=__name__)
