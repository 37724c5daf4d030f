"""The nightly full recompute (store-relative thresholds move as a store grows)."""

from __future__ import annotations

import logging
from datetime import timedelta

log = logging.getLogger(__name__)

NIGHTLY_CRON = "15 2 * * *"  # 02:15, after closing and before opening, on the server's clock
RUN_LOCK = "classification.recompute_all"
# How long a SQLite lock row of a run that died blocks the next one (PostgreSQL's lock dies
# with its connection). No run lasts longer: rq stops a job after its timeout, 3600 s.
RUN_LOCK_TTL = timedelta(hours=1)


def recompute_all_alone(session, wait: float | None = None) -> list[dict]:
    """`recompute_all`, unless another full recompute is running: then LockHeld (at once, or
    after waiting `wait` seconds for it to finish). Two runs would interleave their batches,
    do the work twice and write class changes to the timeline twice."""
    from core.classification.compute import recompute_all
    from core.locks import run_lock

    with run_lock(session.get_bind(), RUN_LOCK, RUN_LOCK_TTL, wait=wait):
        return recompute_all(session)


def nightly_recompute() -> list[dict]:
    from core.extensions import db
    from core.locks import LockHeld

    try:
        results = recompute_all_alone(db.session)
    except LockHeld as held:
        # That run does tonight's work; the cron tries again tomorrow.
        log.warning("classification not recomputed: %s", held)
        return []
    log.info("classification recomputed: %s", results)
    return results
