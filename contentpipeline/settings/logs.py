"""Logs and metrics.

Production gets JSON log lines (one object a line, with the request id) and
`/metrics` for staff alone unless METRICS_TOKEN is set.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import DEBUG, env

# json: one JSON object a line (time, level, logger, message, request_id and the
# line's fields); text: for a person at a terminal. See contentpipeline/observability.py.
LOG_FORMATS = ("json", "text")
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
if LOG_FORMAT not in LOG_FORMATS:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} is unknown; use json or text")
# Bearer token a Prometheus server sends for GET /metrics (staff may read it anyway).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

LOGGING_CONFIG = "contentpipeline.observability.configure_logging"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "contentpipeline.observability.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "contentpipeline.observability.JsonFormatter"},
        "text": {"()": "contentpipeline.observability.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own console handler (DEBUG only) would print its lines a second
        # time, unformatted: they go to the root's handler alone.
        "django": {"level": "INFO"},
        "django.db.backends": {"level": "WARNING"},
        # Its banner on every start (each manage.py command); lockouts are warnings.
        "axes": {"level": "WARNING"},
        # A line per model request: the stage runs record every call already.
        "httpx2": {"level": "WARNING"},
    },
}
