"""Who runs the periodic jobs, and when each last succeeded: read for `/readyz` and `/metrics`.

`periodic_status(app)` is the one place both read it, from the durable record every scheduler
writes (`periodic_run`, core/scheduling.py): the scheduler that claimed the latest slot, and per
job the end of its latest successful run. The same with or without Redis."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

log = logging.getLogger(__name__)

IN_PROCESS = "in-process"


@dataclass
class PeriodicStatus:
    mode: str  # "redis" or "in-process"
    leader: str | None  # the leading scheduler's name; None when none holds the lock (or Redis is down)
    last_success: dict[str, datetime] = field(default_factory=dict)  # job name -> finish time (UTC)


def periodic_status(app) -> PeriodicStatus:
    """The scheduler's state from the database (raises what the database raises)."""
    from core.scheduling import scheduler_status

    status = scheduler_status(app)
    mode = "redis" if app.extensions["storecrm.jobs"].uses_redis else IN_PROCESS
    last = {job: row["last_success"] for job, row in status["jobs"].items() if row["last_success"] is not None}
    last = {job: at if at.tzinfo else at.replace(tzinfo=timezone.utc) for job, at in last.items()}
    # Without Redis the scheduler runs in the web process itself, whether or not it claimed yet.
    leader = status["leader"] or (IN_PROCESS if mode == IN_PROCESS else None)
    return PeriodicStatus(mode=mode, leader=leader, last_success=last)
