"""The nightly full recompute (store-relative thresholds move as a store grows)."""

from __future__ import annotations

import logging
from datetime import timedelta

log = logging.getLogger(__name__)

NIGHTLY_CRON = "15 2 * * *"  # 02:15, after closing and before opening: each store's clock, and the chain's
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
    """The chain and every store at once (the admin's and the API's "recompute now")."""
    from core.extensions import db
    from core.locks import LockHeld

    try:
        results = recompute_all_alone(db.session)
    except LockHeld as held:
        # That run does the same work now; recomputing again after it would change nothing.
        log.warning("classification not recomputed: %s", held)
        return []
    log.info("classification recomputed: %s", results)
    return results


# Scheduled runs of one scope wait for a run in progress (a store at the same hour as another,
# a "recompute now"): skipping would leave that store's classes a day old.
SCOPE_RUN_WAIT = 1800.0


def recompute_scope_alone(session, scope_id: int) -> list[dict]:
    from core.classification.compute import recompute_scope
    from core.locks import run_lock

    with run_lock(session.get_bind(), RUN_LOCK, RUN_LOCK_TTL, wait=SCOPE_RUN_WAIT):
        results = recompute_scope(session, [scope_id])
        session.commit()
    return results


def nightly_recompute_store(store_id: int) -> list[dict]:
    """Nightly at 02:15 on the store's clock: the store's classes (core/scheduling.py)."""
    from core.extensions import db
    from core.models import Store

    gone = db.session.get(Store, store_id) is None
    db.session.rollback()  # SQLite: the run lock takes the one writer on a connection of its own
    if gone:
        return []  # deleted since the slot was claimed
    results = recompute_scope_alone(db.session, store_id)
    log.info("classification of store %s recomputed: %s", store_id, results)
    return results


def nightly_recompute_chain() -> list[dict]:
    """Nightly at 02:15 on the chain's clock: the chain-wide classes."""
    from core.classification.models import CHAIN_SCOPE
    from core.extensions import db

    results = recompute_scope_alone(db.session, CHAIN_SCOPE)
    log.info("chain-wide classification recomputed: %s", results)
    return results
