"""The nightly full recompute (store-relative thresholds move as a store grows)."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

NIGHTLY_CRON = "15 2 * * *"  # 02:15, after closing and before opening, on the server's clock


def nightly_recompute() -> list[dict]:
    from core.classification.compute import recompute_all
    from core.extensions import db

    results = recompute_all(db.session)
    log.info("classification recomputed: %s", results)
    return results
