"""Settings of the REST API (``medora serve``), kept apart from the library and answer settings.

``ApiSettings`` is a small pydantic model; ``medora serve`` fills it from its options, and
``create_app(settings, api)`` takes it (defaults when omitted).
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class ApiSettings(BaseModel):
    """Limits and policies of one API server."""

    anonymous_ask: bool = Field(True, description="Let clients without credentials ask questions")
    max_body_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024, description="Largest request body")
    rate_per_second: float = Field(
        10.0, ge=0.0, le=100_000.0, description="Requests per second each client may sustain (0: no limit)"
    )
    rate_burst: int = Field(40, ge=1, le=100_000, description="Requests a client may make at once before waiting")
    session_minutes: int = Field(60, ge=1, le=24 * 60, description="Lifetime of a token from POST /v1/auth/login")
    session_secret: SecretStr | None = Field(
        None,
        description="Key signing login tokens; set it to keep sessions valid across restarts and workers "
        "(default: a random key per process; `medora serve` makes one per start and hands it to its workers)",
    )
    workers: int = Field(1, ge=1, le=64, description="Worker processes serving this library (more than one: "
                         "rate limits are kept in the library, shared by all)")
    access_log: bool = Field(True, description="Log every request (method, path, status, duration, request id)")
    api_docs: bool = Field(False, description="Serve Swagger UI (/docs) and ReDoc (/redoc); they load scripts from a "
                           "CDN, so they stay off unless wanted (the schema is always at /openapi.json)")
    forwarded_allow_ips: str = Field("127.0.0.1", description="Comma-separated addresses (or *) of proxies whose "
                                     "X-Forwarded-For/-Proto are trusted: the client address for rate limits, "
                                     "login backoff and the audit log, and https for Secure cookies")
    header_timeout_s: float = Field(10.0, gt=0, le=300, description="Seconds a client may take to send a request's "
                                    "headers before the connection is closed")
    secure_cookies: bool | None = Field(
        None,
        description="Mark the web pages' cookies Secure: true, false, or null to do so when the request "
        "came over https",
    )
