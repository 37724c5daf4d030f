"""Sending webhook deliveries: signed, in order per customer, retried with backoff for the
retry window (24 hours by default), then failed; a failed one can be replayed.

A delivery is sendable when it is due and no earlier delivery of the same customer to the same
subscription is still on its way. A sender claims a row with a conditional UPDATE (it moves
`next_attempt_at` a lease ahead), so two workers never send the same delivery at once, and
holds no transaction while the HTTP request runs."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from datetime import timedelta

import requests
from flask import current_app
from sqlalchemy import exists, select, update
from sqlalchemy.orm import aliased

from core.extensions import db
from core.models import WebhookDelivery, WebhookSubscription, utcnow
from core.webhooks import payloads
from core.webhooks.urls import UrlRefused, check_url

log = logging.getLogger(__name__)

ON_THE_WAY = ("pending", "retrying")
LEASE = timedelta(seconds=60)  # a sender that died mid-request: the row is due again after this
MAX_BACKOFF = timedelta(hours=1)
TIMEOUT = (3.05, 10)  # connect, read (seconds)
USER_AGENT = "storecrm-webhooks/1"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`X-Storecrm-Signature`: "v1=" + hex HMAC-SHA256 of `"{timestamp}." + body` under the secret."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def backoff(attempts: int) -> timedelta:
    base = float(current_app.config.get("WEBHOOK_BACKOFF_SECONDS", 10))
    return min(timedelta(seconds=base * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def due_ids(session, limit: int, tried=()) -> list[int]:
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(earlier.subscription_id == WebhookDelivery.subscription_id,
                             earlier.customer_id == WebhookDelivery.customer_id,
                             earlier.id < WebhookDelivery.id, earlier.status.in_(ON_THE_WAY))
    return list(session.scalars(
        select(WebhookDelivery.id)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(WebhookDelivery.status.in_(ON_THE_WAY), WebhookDelivery.next_attempt_at <= utcnow(),
               WebhookSubscription.active.is_(True), ~blocked,
               WebhookDelivery.id.not_in(tried) if tried else WebhookDelivery.id.isnot(None))
        .order_by(WebhookDelivery.id).limit(limit)))


def send_due(limit: int = 100, passes: int = 50) -> dict:
    """Send what is due, oldest first; a customer's next delivery goes once the one before it
    went. Runs after the outbox delivered a batch, and as a periodic job. Returns counts."""
    session = db.session
    counts: dict[str, int] = {}
    tried: list[int] = []  # once per call: a failure waits for its backoff, not for the next pass
    for _ in range(passes):
        ids = due_ids(session, limit, tried)
        session.commit()
        if not ids:
            break
        tried.extend(ids)
        for delivery_id in ids:
            status = send_one(delivery_id)
            counts[status] = counts.get(status, 0) + 1
    return counts


def send_one(delivery_id: int) -> str:
    """Claim one due delivery, POST it, record the outcome. Returns its new status."""
    session = db.session
    now = utcnow()
    claimed = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status.in_(ON_THE_WAY),
               WebhookDelivery.next_attempt_at <= now)
        .values(next_attempt_at=now + LEASE, attempts=WebhookDelivery.attempts + 1, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    session.commit()
    if not claimed:
        return "skipped"
    delivery = session.get(WebhookDelivery, delivery_id)
    subscription = delivery.subscription
    url, secret = subscription.url, subscription.secret
    body = (delivery.body or payloads.redacted(delivery)).encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "X-Storecrm-Event": delivery.event_type, "X-Storecrm-Event-Id": str(delivery.event_id),
               "X-Storecrm-Delivery": str(delivery.id)}
    session.commit()  # no transaction open during the request
    code, error = post(url, body, secret, headers)
    delivery = session.get(WebhookDelivery, delivery_id)
    record(delivery, code, error)
    session.commit()
    return delivery.status


def post(url: str, body: bytes, secret: str, headers: dict) -> tuple[int | None, str | None]:
    """(status code, error). Redirects are not followed (a 3xx is a failure): the subscriber
    names the URL it receives on. The address is checked again: DNS may have changed."""
    try:
        check_url(url)
    except UrlRefused as exc:
        return None, str(exc)
    timestamp = int(time.time())
    headers = {**headers, "X-Storecrm-Timestamp": str(timestamp), "X-Storecrm-Signature": sign(secret, timestamp, body)}
    try:
        response = requests.post(url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    with response:
        if 200 <= response.status_code < 300:
            return response.status_code, None
        return response.status_code, f"HTTP {response.status_code}"


def record(delivery: WebhookDelivery, code: int | None, error: str | None) -> None:
    now = utcnow()
    delivery.last_status_code = code
    if error is None:
        delivery.status, delivery.delivered_at, delivery.last_error, delivery.next_attempt_at = "delivered", now, None, None
        return
    delivery.last_error = error[:500]
    window = timedelta(seconds=current_app.config.get("WEBHOOK_RETRY_WINDOW_SECONDS", 24 * 3600))
    end = delivery.window_started_at + window
    if now >= end:
        delivery.status, delivery.next_attempt_at = "failed", None
        log.warning("webhook delivery %s failed for good after %s attempts: %s", delivery.id, delivery.attempts, error)
    else:
        # The last try falls at the end of the window when the backoff would pass it.
        delivery.status, delivery.next_attempt_at = "retrying", min(now + backoff(delivery.attempts), end)


def replay(session, delivery: WebhookDelivery) -> None:
    """Send a delivery again (failed, or delivered and wanted once more): due now, with a new
    retry window. The caller commits, then calls `send_soon()`."""
    now = utcnow()
    delivery.status, delivery.next_attempt_at, delivery.window_started_at = "pending", now, now
    delivery.last_error = None


def send_soon() -> None:
    """After a commit that made deliveries due: a worker sends them (with Redis), else this process."""
    queue = current_app.extensions["storecrm.jobs"]
    if queue.uses_redis:
        queue.enqueue(send_due_job)
    else:
        send_due()


def send_due_job() -> dict:
    """Periodic job (and rq job): send the due webhook deliveries."""
    return send_due()
