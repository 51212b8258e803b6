"""The REST API (``medora serve``): answers, published articles, review, and the library, over HTTP.

``create_app(settings, api)`` builds the FastAPI application; ``ApiSettings`` holds its limits.
"""

from medora.api.app import create_app
from medora.api.config import ApiSettings

__all__ = ["ApiSettings", "create_app"]
