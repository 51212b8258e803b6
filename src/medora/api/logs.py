"""The server's logs: secrets kept out, one JSON object per line on request, a request id on each.

``RedactSecrets`` replaces API tokens (``mdr_…``), login tokens (``mds_…``) and any
``Bearer <credential>`` in a log record's arguments, message, access fields and traceback with
``[redacted]`` (a token pasted into a URL would otherwise reach the access log). Arguments are
cleaned one by one, so formatters that read them keep working. ``install_filters`` puts it on
the loggers the API and uvicorn write to; ``uvicorn_log_config`` is uvicorn's own logging set-up
with the filter on every handler, in ``text`` (uvicorn's format) or ``json`` (``JsonFormatter``).

Access records (logger ``medora.access``, written by ``metrics.ObserveMiddleware``) carry
``method``, ``path`` (query values replaced by ``[redacted]``), ``status``, ``duration_ms``; every
record made while a request is served carries its ``request_id``. Question text is never logged:
answers are logged with the question's length only.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import uvicorn.config

REDACTED = "[redacted]"
_SECRET = re.compile(r"\bmd[rs]_[A-Za-z0-9_\-.~+/=]+|(?i:\bbearer)\s+[^\s\"',;]+")
LOGGERS = ("medora", "medora.api", "medora.access", "uvicorn", "uvicorn.error", "uvicorn.access")
ACCESS_FIELDS = ("method", "path", "status", "duration_ms")
REQUEST_ID: ContextVar[str | None] = ContextVar("medora_request_id", default=None)


def redact(text: str) -> str:
    return _SECRET.sub(REDACTED, text)


def _clean(value: Any) -> Any:
    if isinstance(value, (int, float, type(None))):
        return value
    return redact(value if isinstance(value, str) else str(value))


class RedactSecrets(logging.Filter):
    """Scrub tokens from a record in place; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, Mapping):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_clean(v) for v in record.args)
        if isinstance(getattr(record, "path", None), str):
            record.path = redact(record.path)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: logging reports it as such
            return True
        if redact(message) != message:  # a secret spans the template and an argument ("Bearer %s")
            record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, pid, request id and access fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        request_id = REQUEST_ID.get()
        if request_id:
            data["request_id"] = request_id
        data.update({name: getattr(record, name) for name in ACCESS_FIELDS if hasattr(record, name)})
        if record.exc_info or record.exc_text:
            data["exception"] = record.exc_text or redact(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False, default=str)


def install_filters() -> None:
    """Add the filter (once) to each logger the API and uvicorn log to."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


def uvicorn_log_config(level: str = "info", fmt: str = "text") -> dict[str, Any]:
    """uvicorn's default logging configuration, every handler filtered, Medora's loggers on it; ``fmt``: text|json."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["filters"] = {"redact_secrets": {"()": RedactSecrets}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_secrets"]
    if fmt == "json":
        config["formatters"] = {name: {"()": JsonFormatter} for name in config["formatters"]}
    config["loggers"]["medora"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config
