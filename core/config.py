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
    load_dotenv(os.environ.get("STORECRM_ENV_FILE", ".env"), override=False)
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
    url = cfg["DATABASE_URL"]
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        # psycopg 3 is the supported driver.
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    cfg["SQLALCHEMY_DATABASE_URI"] = url
    cfg["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(url)
    return cfg


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


def engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}


def _split(value: str | None) -> list[str] | None:
    if value is None or value.strip() == "":
        return None
    return [part.strip() for part in value.split(",") if part.strip()]
