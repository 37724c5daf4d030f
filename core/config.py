"""Configuration from the environment (and a `.env` file), read once by the app factory."""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import load_dotenv

ENV_PREFIX = "STORECRM_"


class ConfigError(RuntimeError):
    """The environment does not describe a runnable app; the message says what to set."""


def load_config(instance_path: str, overrides: dict | None = None) -> dict:
    """Return the Flask config mapping for this process.

    Order: defaults < environment (`.env` included) < explicit overrides (tests, demo).
    """
    load_env_file()
    env = os.environ
    overrides = dict(overrides or {})
    default_db = "sqlite:///" + str(Path(instance_path) / "storecrm.db")
    cfg = {
        "DATABASE_URL": env.get("STORECRM_DATABASE_URL", default_db),
        "REDIS_URL": env.get("STORECRM_REDIS_URL") or None,
        "SECRET_KEY": env.get("STORECRM_SECRET_KEY"),
        "DATA_KEY": env.get("STORECRM_DATA_KEY"),
        "LOCALE": env.get("STORECRM_LOCALE", "zh_CN"),
        # None means "every installed plugin"; a comma list restricts loading (tests use it).
        "PLUGINS": _split(env.get("STORECRM_PLUGINS")),
        "PLUGINS_STRICT": env.get("STORECRM_PLUGINS_STRICT", "") in ("1", "true", "yes"),
        "QUEUE_NAME": env.get("STORECRM_QUEUE", "storecrm"),
        # Behind HTTPS (any real shop), the admin's session cookie is sent over HTTPS only.
        "SESSION_COOKIE_SECURE": env.get("STORECRM_SECURE_COOKIES", "") in ("1", "true", "yes"),
        # Set here, not with app.config.setdefault: Flask predefines these keys (as None/False).
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # How many reverse proxies (nginx, a load balancer) stand in front of the app. Only
        # that many X-Forwarded-For hops are believed; 0 (the default) believes none, since a
        # client can send the header itself and pose as any address in audit rows.
        "TRUSTED_PROXIES": env.get("STORECRM_TRUSTED_PROXIES", "0"),
        # An import's rejected rows (personal data, encrypted) are downloadable this many days;
        # an import silent this many hours with no live job is marked failed (core/imports/cleanup.py).
        "IMPORT_REJECTS_DAYS": env.get("STORECRM_IMPORT_REJECTS_DAYS", "7"),
        "IMPORT_STALE_HOURS": env.get("STORECRM_IMPORT_STALE_HOURS", "2"),
        # An admin session unused this long is over (the counter screen signs in again).
        "SESSION_IDLE_MINUTES": env.get("STORECRM_SESSION_IDLE_MINUTES", "480"),
        # The largest request body: a 1,000-sale offline batch fits with room to spare.
        # Admin uploads of import files have their own, larger limit.
        "MAX_CONTENT_LENGTH": env.get("STORECRM_MAX_REQUEST_BYTES", str(4 * 1024 * 1024)),
        "IMPORT_MAX_BYTES": env.get("STORECRM_IMPORT_MAX_BYTES", str(64 * 1024 * 1024)),
        # /metrics answers only a scraper bearing this token; unset, it is off (404).
        "METRICS_TOKEN": env.get("STORECRM_METRICS_TOKEN") or None,
        # Where gunicorn's workers keep their counters for /metrics (emptied by `storecrm run`).
        "METRICS_DIR": env.get("STORECRM_METRICS_DIR") or str(Path(instance_path) / "metrics"),
        # Webhooks: a URL on a private, loopback or link-local address is refused unless this is
        # set (a subscriber on the shop's own network); failed deliveries are retried this long.
        "WEBHOOKS_ALLOW_PRIVATE_URLS": env.get("STORECRM_WEBHOOKS_ALLOW_PRIVATE_URLS", "") in ("1", "true", "yes"),
        "WEBHOOK_RETRY_WINDOW_SECONDS": env.get("STORECRM_WEBHOOK_RETRY_WINDOW_SECONDS", str(24 * 3600)),
        # Seconds between two looks of each worker's periodic scheduler (core/scheduling.py), and
        # a JSON object moving jobs: {"core.classification_nightly": "15 3 * * *", "core.outbox_sweep": 30}.
        "SCHEDULER_TICK": env.get("STORECRM_SCHEDULER_TICK", "5"),
        "JOB_SCHEDULE": env.get("STORECRM_JOB_SCHEDULE", ""),
        # Requests per API token (docs/api.md, "Rate limits"): a limits string, ";" between windows.
        "API_RATE_LIMIT": env.get("STORECRM_API_RATE_LIMIT", "600 per minute"),
        "API_RATE_LIMIT_ENABLED": env.get("STORECRM_API_RATE_LIMIT_ENABLED", "1") in ("1", "true", "yes"),
        # The server's public address for the OpenAPI document's `servers` (behind a proxy).
        "API_PUBLIC_URL": env.get("STORECRM_API_PUBLIC_URL") or None,
        "DEMO": False,
        "TESTING": False,
    }
    cfg.update(overrides)
    if not cfg["SECRET_KEY"]:
        if cfg["DEMO"] or cfg["TESTING"]:
            cfg["SECRET_KEY"] = "storecrm-not-secret-" + ("demo" if cfg["DEMO"] else "test")
        else:
            raise ConfigError("STORECRM_SECRET_KEY is not set: set it in the environment or in .env")
    if not cfg["DATA_KEY"]:
        raise ConfigError(
            "STORECRM_DATA_KEY is not set: personal data is encrypted at rest and will not be "
            "stored in clear. Generate one with `storecrm keys generate` and put it in .env."
        )
    _check_data_key(cfg["DATA_KEY"])
    cfg["TRUSTED_PROXIES"] = _count("STORECRM_TRUSTED_PROXIES", cfg["TRUSTED_PROXIES"], "a number of proxies", 0)
    cfg["IMPORT_REJECTS_DAYS"] = _count("STORECRM_IMPORT_REJECTS_DAYS", cfg["IMPORT_REJECTS_DAYS"], "a number of days", 1)
    cfg["IMPORT_STALE_HOURS"] = _count("STORECRM_IMPORT_STALE_HOURS", cfg["IMPORT_STALE_HOURS"], "a number of hours", 1)
    cfg["SESSION_IDLE_MINUTES"] = _count("STORECRM_SESSION_IDLE_MINUTES", cfg["SESSION_IDLE_MINUTES"], "a number of minutes", 1)
    cfg["MAX_CONTENT_LENGTH"] = _count("STORECRM_MAX_REQUEST_BYTES", cfg["MAX_CONTENT_LENGTH"], "a number of bytes", 1024)
    cfg["IMPORT_MAX_BYTES"] = _count("STORECRM_IMPORT_MAX_BYTES", cfg["IMPORT_MAX_BYTES"], "a number of bytes", 1024)
    cfg["WEBHOOK_RETRY_WINDOW_SECONDS"] = _count("STORECRM_WEBHOOK_RETRY_WINDOW_SECONDS",
                                                 cfg["WEBHOOK_RETRY_WINDOW_SECONDS"], "a number of seconds", 0)
    cfg["SCHEDULER_TICK"] = _count("STORECRM_SCHEDULER_TICK", cfg["SCHEDULER_TICK"], "a number of seconds", 1)
    cfg["JOB_SCHEDULE"] = _job_schedule(cfg["JOB_SCHEDULE"])
    url = cfg["DATABASE_URL"]
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        # psycopg 3 is the supported driver.
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    cfg["SQLALCHEMY_DATABASE_URI"] = url
    cfg["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(url)
    return cfg


def load_env_file() -> None:
    """Settings from `.env` (or STORECRM_ENV_FILE) join the environment; the environment wins."""
    load_dotenv(os.environ.get("STORECRM_ENV_FILE", ".env"), override=False)


def _check_data_key(keys: str) -> None:
    from core.crypto import DataCipher, DataKeyError

    try:
        DataCipher(keys)
    except DataKeyError as exc:
        raise ConfigError(str(exc)) from exc


def _count(variable: str, value, what: str, least: int) -> int:
    """A whole number setting, or a start-up error naming the variable."""
    try:
        number = int(str(value).strip())
    except ValueError:
        number = least - 1
    if number < least:
        raise ConfigError(f"{variable} must be {what} ({least} or more), not {value!r}")
    return number


def _job_schedule(value) -> dict:
    """STORECRM_JOB_SCHEDULE: {job name: seconds (a number) or a cron expression (a string)}."""
    import json

    if isinstance(value, dict):
        return value
    if not str(value or "").strip():
        return {}
    try:
        schedule = json.loads(value)
    except ValueError as exc:
        raise ConfigError(f"STORECRM_JOB_SCHEDULE must be a JSON object of job name to seconds or cron: {exc}") from exc
    if not isinstance(schedule, dict):
        raise ConfigError("STORECRM_JOB_SCHEDULE must be a JSON object of job name to seconds or cron")
    for name, when in schedule.items():
        if isinstance(when, bool) or not isinstance(when, (int, str)) or (isinstance(when, int) and when < 1):
            raise ConfigError(f"STORECRM_JOB_SCHEDULE: {name!r} needs seconds (1 or more) or a cron expression, not {when!r}")
        if isinstance(when, str):
            from croniter import croniter

            if not croniter.is_valid(when):
                raise ConfigError(f"STORECRM_JOB_SCHEDULE: {name!r}: {when!r} is not a cron expression")
    return schedule


def engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        # As many connections as PostgreSQL's pool: a request holds its own while the reactions
        # after its commit run in-process on another, so 16 server threads need 32 (the default
        # 5 + 10 timed requests out after 30 s with 16 tills in bench/).
        return {"pool_size": 10, "max_overflow": 20, "connect_args": {"timeout": 30, "check_same_thread": False}}
    # A database that does not answer fails a request within seconds (a 503 with Retry-After,
    # core/observability/outage.py) instead of holding the till until TCP gives up.
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20, "connect_args": {"connect_timeout": 5}}


def _split(value: str | None) -> list[str] | None:
    if value is None or value.strip() == "":
        return None
    return [part.strip() for part in value.split(",") if part.strip()]
