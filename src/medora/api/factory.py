"""``medora serve``: the app built in each worker process from what the parent handed over.

The parent (``run``) checks and migrates the library once, then hands each uvicorn worker its
configuration through the environment, never the command line: ``MEDORA_SERVE_CONFIG`` holds the
settings as JSON (no secret), ``MEDORA_SESSION_SECRET`` the key signing login tokens and CSRF
values (the operator's, else one the parent makes for this start, so a token from one worker is
good on all). ``medora serve`` also sets ``PROMETHEUS_MULTIPROC_DIR`` to a temporary folder for
the workers' metrics (before this package is imported: prometheus_client reads it on import) and
removes it when the server stops. Workers inherit the environment and call ``app_from_environment``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
from contextlib import closing
from types import FrameType

from fastapi import FastAPI

from medora.api.app import create_app
from medora.api.config import ApiSettings
from medora.api.logs import uvicorn_log_config
from medora.api.protocol import HEADER_TIMEOUT_ENV, HeaderTimeoutProtocol
from medora.errors import UsageError
from medora.library.open import open_store
from medora.library.retention import purge_threads
from medora.settings import Settings

CONFIG_ENV = "MEDORA_SERVE_CONFIG"
SESSION_SECRET_ENV = "MEDORA_SESSION_SECRET"
FACTORY = "medora.api.factory:app_from_environment"


def serve_environment(settings: Settings, api: ApiSettings) -> dict[str, str]:
    """The variables a worker needs: settings as JSON, and the session key (made now when none is set)."""
    secret = api.session_secret.get_secret_value() if api.session_secret else secrets.token_urlsafe(32)
    config = {"settings": settings.model_dump(mode="json"),
              "api": api.model_dump(mode="json", exclude={"session_secret"})}
    return {CONFIG_ENV: json.dumps(config), SESSION_SECRET_ENV: secret}


def app_from_environment() -> FastAPI:
    """The app for one worker, from ``serve_environment``'s variables."""
    raw = os.environ.get(CONFIG_ENV)
    if not raw:
        raise UsageError(f"${CONFIG_ENV} is not set: start the server with `medora serve`")
    config = json.loads(raw)
    api = ApiSettings(**config["api"], session_secret=os.environ.get(SESSION_SECRET_ENV) or None)
    return create_app(Settings(**config["settings"]), api)


def _terminated(signum: int, frame: FrameType | None) -> None:
    """uvicorn stops gracefully on SIGTERM, then raises it again: leave through ``finally`` blocks, not at once."""
    raise SystemExit(128 + signum)


def run(settings: Settings, api: ApiSettings, *, host: str, port: int, log_level: str, log_format: str) -> None:
    """Serve with ``api.workers`` processes until interrupted."""
    import uvicorn

    with closing(open_store(settings.library, create=False)) as store:  # a clear error now, migrations run once
        purge_threads(store, settings.thread_retention_days)  # and threads past their retention go
    os.environ.update(serve_environment(settings, api))
    os.environ[HEADER_TIMEOUT_ENV] = str(api.header_timeout_s)
    signal.signal(signal.SIGTERM, _terminated)
    uvicorn.run(FACTORY, factory=True, workers=api.workers, host=host, port=port, log_level=log_level,
                log_config=uvicorn_log_config(log_level, log_format), access_log=False, server_header=False,
                http=HeaderTimeoutProtocol, proxy_headers=True, forwarded_allow_ips=api.forwarded_allow_ips)
