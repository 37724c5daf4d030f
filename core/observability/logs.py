"""Operators' logs: one line per record, on stderr (systemd's journal, or a file it is sent to).

    2026-11-30T12:33:33.123Z INFO [4121] [9f1c…] core.jobs: message

or, with `STORECRM_LOG_FORMAT=json`, one JSON object per line with `time`, `level`, `pid`,
`request_id`, `logger`, `message` (and `exc` for a traceback, and any `extra=` fields).

Every library's records go through the one root handler: werkzeug's and rq's loggers add
their own (coloured) handlers only when no handler is configured, and gunicorn's are sent here
by `GunicornLogger`. Colour codes some of them write into the message itself (werkzeug colours
the status code) are removed, and every field is masked (core/privacy/masking_log.py), so a
file never holds escape sequences or a customer's phone number.

Configured once per process by the `storecrm` command (`configure_logging`), never on import.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time

from core.privacy.masking_log import install_log_masking, mask_text

FORMATS = ("text", "json")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# The attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id",
                                                                       "_storecrm_masked"}


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text) if "\x1b" in text else text


def _utc_time(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class RequestIdFilter(logging.Filter):
    """Puts the request id on every record: the Flask request's, or for gunicorn's access line
    the one the response carried (the request context is gone by then)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current_request_id(record)
        return True


def _current_request_id(record: logging.LogRecord) -> str:
    from flask import g, has_request_context

    if has_request_context():
        return g.get("request_id") or "-"
    if record.name == "gunicorn.access" and isinstance(record.args, dict):
        return record.args.get("{x-request-id}o") or "-"
    return "-"


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s [%(process)d] [%(request_id)s] %(name)s: %(message)s")

    def formatTime(self, record, datefmt=None):  # noqa: N802 - logging's name
        return _utc_time(record)

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = getattr(record, "request_id", "-")
        # rstrip: a message ending in a newline (a Python warning's) would leave an empty line.
        return mask_text(strip_ansi(super().format(record))).rstrip()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": _utc_time(record),
            "level": record.levelname,
            "pid": record.process,
            "request_id": getattr(record, "request_id", "-"),
            "logger": record.name,
            "message": record.getMessage().rstrip(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        return json.dumps({k: _clean(v) for k, v in line.items()}, ensure_ascii=False, default=str)


def _clean(value):
    return mask_text(strip_ansi(value)) if isinstance(value, str) else value


def make_handler(fmt: str = "text", stream=None) -> logging.Handler:
    if fmt not in FORMATS:
        raise ValueError(f"STORECRM_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    handler.set_name("storecrm")
    return handler


def configure_logging(fmt: str = "text", level: str = "INFO", stream=None) -> logging.Handler:
    """Make the root logger write operators' lines (replacing a handler set up earlier by this
    function); Python warnings become log records too, so they carry a time."""
    install_log_masking()
    handler = make_handler(fmt, stream)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "storecrm"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Alembic says "Running upgrade ..." for each migration; `db upgrade` prints them itself.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.captureWarnings(True)
    return handler


def gunicorn_logger_class():
    """gunicorn's logger, with its error and access records sent to the root handler (same
    format, masking and request id as every other line) instead of its own handlers."""
    from gunicorn.glogging import Logger

    class GunicornLogger(Logger):
        def setup(self, cfg):
            super().setup(cfg)
            for logger in (self.error_log, self.access_log):
                for handler in list(logger.handlers):
                    logger.removeHandler(handler)
                logger.propagate = True

    return GunicornLogger
