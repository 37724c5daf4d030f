"""What an operator watches: request ids, health and readiness, metrics, database outages
(503 with Retry-After, logged once) and the log format (configured by the `storecrm` command)."""

from __future__ import annotations


def init_observability(app) -> None:
    """Wire into a new app; called first by the app factory, so the request id is set before any
    other hook of the request runs (and logs)."""
    from core.observability.health import bp as health_bp
    from core.observability.metrics import init_metrics
    from core.observability.outage import init_outage_log
    from core.observability.request_id import init_request_id

    init_request_id(app)
    init_outage_log(app)
    init_metrics(app)
    app.register_blueprint(health_bp)
