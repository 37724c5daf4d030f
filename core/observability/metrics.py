"""Prometheus metrics at `GET /metrics` (prometheus_client).

Two kinds:

- counted by each web process as it answers: requests and their latency, by route (the URL
  rule, never the raw path, so ids do not make new series). Under gunicorn every worker is its
  own process: `storecrm run` points prometheus_client's multiprocess mode at a folder
  (`STORECRM_METRICS_DIR`, wiped at start), and a scrape adds up every worker's files;
- read when scraped, from the database and Redis: the job queue's depth, jobs parked in the
  database while Redis was down, reactions waiting or failed in the outbox, failed jobs, the
  periodic-job leader and each periodic job's last success (core/observability/scheduler_state.py).

/metrics is off unless `STORECRM_METRICS_TOKEN` is set; then it wants `Authorization: Bearer
<token>` (docs/deploy.md: Prometheus scrapes the app's port directly, nginx never exposes it).

prometheus_client is imported when the first request is counted, not before: its multiprocess
mode is chosen at import from PROMETHEUS_MULTIPROC_DIR, which `storecrm run` sets only after
the command has built its app."""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time

from flask import Blueprint, abort, current_app, g, request

log = logging.getLogger(__name__)

bp = Blueprint("storecrm_metrics", __name__)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_build_lock = threading.Lock()


class RequestMetrics:
    """The counters of one app (its own registry: tests build many apps in one process)."""

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("storecrm_http_requests", "HTTP requests answered, by route and status.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("storecrm_http_request_duration_seconds", "Time to answer a request, by route.",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


def request_metrics(app) -> RequestMetrics:
    metrics = app.extensions.get("storecrm.metrics")
    if metrics is None:
        with _build_lock:
            metrics = app.extensions.get("storecrm.metrics")
            if metrics is None:
                metrics = app.extensions["storecrm.metrics"] = RequestMetrics()
    return metrics


def init_metrics(app) -> None:
    app.register_blueprint(bp)

    @app.before_request
    def _start_clock():
        g.storecrm_started = time.perf_counter()

    @app.after_request
    def _count(response):
        started = g.pop("storecrm_started", None)
        if started is not None:
            route = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
            metrics = request_metrics(app)
            metrics.requests.labels(request.method, route, str(response.status_code)).inc()
            metrics.latency.labels(request.method, route).observe(time.perf_counter() - started)
        return response


@bp.get("/metrics")
def metrics_endpoint():
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        abort(401)
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    app = current_app._get_current_object()
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Forward(request_metrics(app).registry))
    registry.register(StateCollector(app))
    return current_app.response_class(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST,
                                      headers={"Cache-Control": "no-store"})


class _Forward:
    """This process's counters, in a registry of their own, joined to one scrape."""

    def __init__(self, registry):
        self.source = registry

    def collect(self):
        yield from self.source.collect()


class StateCollector:
    """Gauges read at scrape time; a part that cannot be read is reported down, not an error."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        def gauge(name, text, value=None, labels=()):
            family = GaugeMetricFamily(name, text, labels=list(labels) or None)
            if value is not None:
                family.add_metric([], value)
            return family

        yield from self._database(gauge)
        yield from self._redis(gauge)

    def _database(self, gauge):
        from sqlalchemy import func, select
        from sqlalchemy.exc import SQLAlchemyError

        from core.extensions import db
        from core.models import EventDelivery
        from core.models.outbox import JobOutbox

        up = "storecrm_database_up", "1 when the database answered this scrape."
        try:
            with db.engine.connect() as conn:
                parked = conn.scalar(select(func.count()).select_from(JobOutbox))
                deliveries = dict(conn.execute(
                    select(EventDelivery.status, func.count()).where(EventDelivery.status.in_(("pending", "failed", "dead")))
                    .group_by(EventDelivery.status)).all())
        except SQLAlchemyError as exc:
            log.debug("metrics: database unreadable: %s", type(exc).__name__)
            yield gauge(*up, 0)
            return
        yield gauge(*up, 1)
        yield gauge("storecrm_job_outbox_size", "Jobs kept in the database because Redis was unreachable.", parked)
        waiting = gauge("storecrm_event_deliveries", "Reactions after the commit by state: pending (outbox), "
                        "failed (retried with backoff), dead (given up).", labels=["status"])
        for status in ("pending", "failed", "dead"):
            waiting.add_metric([status], deliveries.get(status, 0))
        yield waiting

    def _redis(self, gauge):
        from redis.exceptions import RedisError

        from core.observability.scheduler_state import periodic_status

        queue = self.app.extensions["storecrm.jobs"]
        if not queue.uses_redis:
            yield from self._scheduler(gauge, periodic_status(self.app))
            return
        up = "storecrm_redis_up", "1 when Redis answered this scrape."
        try:
            from rq.registry import FailedJobRegistry

            rq_queue = queue.queue()
            depth, failed = rq_queue.count, FailedJobRegistry(queue=rq_queue).count
            status = periodic_status(self.app)
        except RedisError as exc:
            log.debug("metrics: Redis unreadable: %s", type(exc).__name__)
            yield gauge(*up, 0)
            return
        yield gauge(*up, 1)
        for name, text, value in (("storecrm_job_queue_depth", "Jobs waiting in the Redis queue.", depth),
                                  ("storecrm_jobs_failed", "Jobs in rq's failed-job registry (out of retries).", failed)):
            family = gauge(name, text, labels=["queue"])
            family.add_metric([queue.queue_name], value)
            yield family
        yield from self._scheduler(gauge, status)

    @staticmethod
    def _scheduler(gauge, status):
        leader = gauge("storecrm_scheduler_leader", "1 for the scheduler leading the periodic jobs.",
                       labels=["mode", "leader"])
        if status.leader:
            leader.add_metric([status.mode, status.leader], 1)
        yield leader
        last = gauge("storecrm_periodic_job_last_success_timestamp_seconds",
                     "When each periodic job last finished successfully (Unix time).", labels=["job"])
        for name, at in sorted(status.last_success.items()):
            last.add_metric([name], at.timestamp())
        yield last
