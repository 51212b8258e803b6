"""Keeping secrets out of the server's logs.

``RedactSecrets`` replaces API tokens (``mdr_…``), login tokens (``mds_…``) and any
``Bearer <credential>`` in a log record's arguments, message and traceback with ``[redacted]``
(a token pasted into a URL would otherwise reach the access log). Arguments are cleaned one by
one, so formatters that read them (uvicorn's access log) keep working. ``install_filters`` puts it on
the loggers the API and uvicorn write to; ``uvicorn_log_config`` is uvicorn's own logging set-up
with the filter on every handler, for ``medora serve``.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from typing import Any

import uvicorn.config

REDACTED = "[redacted]"
_SECRET = re.compile(r"\bmd[rs]_[A-Za-z0-9_\-.~+/=]+|(?i:\bbearer)\s+[^\s\"',;]+")
LOGGERS = ("medora", "medora.api", "uvicorn", "uvicorn.error", "uvicorn.access")


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
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: logging reports it as such
            return True
        if redact(message) != message:  # a secret spans the template and an argument ("Bearer %s")
            record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def install_filters() -> None:
    """Add the filter (once) to each logger the API and uvicorn log to."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


def uvicorn_log_config(level: str = "info") -> dict[str, Any]:
    """uvicorn's default logging configuration, every handler filtered, and Medora's loggers on it."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["filters"] = {"redact_secrets": {"()": RedactSecrets}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_secrets"]
    config["loggers"]["medora"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config
