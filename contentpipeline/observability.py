"""Request ids and structured logs.

Each HTTP request has an id: the client's `X-Request-ID` when it is a sane value (at
most 128 characters of letters, digits and `._:=+/-`), else a new uuid4. It is kept in
a context variable while the request runs, so every log line of the request carries
it (`RequestIdFilter`), answered in the response's `X-Request-ID` header, and sent with
the Celery messages the request publishes (a message header, restored in the worker
around the task), so a task's stage-run log lines name the request that created it.

`LOG_FORMAT` (settings) picks the console format: `json` (one JSON object a line,
python-json-logger) or `text` (for a person at a terminal). Text a client controls
(a path, a method) is logged with its control characters escaped, whatever the format.
"""

import logging
import logging.config
import re
import time
import uuid
from contextvars import ContextVar

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from . import prometheus

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
# What a client's id may be: long enough for a uuid, a trace id or a proxy's own ids,
# and nothing that could break a log line or a header.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:=+/-]{1,128}")
# The Celery message header that carries the id.
CELERY_HEADER = "request_id"
MAX_LOGGED_TEXT = 2000

request_logger = logging.getLogger("contentpipeline.requests")


def configure_logging(config: dict) -> None:
    """LOGGING applied (settings' LOGGING_CONFIG), and Python's warnings sent through
    it too (`py.warnings`), so that a library's warning is a line of the same format
    rather than raw text among the JSON."""
    logging.config.dictConfig(config)
    logging.captureWarnings(True)


def sane_request_id(value: object) -> str | None:
    """`value` if it may serve as a request id, else None."""
    if isinstance(value, str) and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return None


def request_id_for(client_value: object) -> str:
    """The id of a request: the client's, if sane, else a new one."""
    return sane_request_id(client_value) or str(uuid.uuid4())


def printable(text: str, limit: int = MAX_LOGGED_TEXT) -> str:
    """Client-controlled text fit for a log line: cut to `limit`, with line breaks and
    other control characters escaped (a path with `%0A` in it cannot forge a line)."""
    text = text[:limit]
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def record_request(
    *, method: str, path: str, status: int, started: float, user_id, request_id: str
) -> None:
    """The request's log line and its Prometheus counts. `started` is the request's
    `time.perf_counter()` at its arrival."""
    duration = time.perf_counter() - started
    prometheus.count_request(method, status, duration)
    method, path = printable(method, 20), printable(path)
    duration_ms = round(duration * 1000, 2)
    request_logger.info(
        "%s %s %s %.1f ms", method, path, status, duration_ms,
        extra={"event": "http_request", "method": method, "path": path, "status": status,
               "duration_ms": duration_ms, "user": user_id, "request_id": request_id},
    )  # fmt: skip


# --- Logging: the id on every record, and the two formats ------------------------------


class RequestIdFilter(logging.Filter):
    """Gives every record the current request's id (None outside a request), unless
    the call named one itself. Django logs a 4xx or 5xx answer (`django.request`) once
    the middleware is done: that line takes the id from the request it names."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            request_id = request_id_var.get()
            if request_id is None:
                request = getattr(record, "request", None)
                request_id = sane_request_id(getattr(request, "request_id", None))
            record.request_id = request_id
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object a line: `time` (ISO 8601, UTC), `level`, `logger`, `message`,
    `request_id` and whatever the call passed in `extra`, but for Django's `request`
    object (its text would log the query string, where a token may be)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request"])
        kwargs.setdefault("fmt", ["levelname", "name", "message"])
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        super().__init__(*args, **kwargs)


class TextFormatter(logging.Formatter):
    """Lines for a person: time, level, logger, message, and the request id when
    there is one."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s: %(message)s")
        super().__init__(*args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} [request {request_id}]" if request_id else line


# --- Celery: the id travels with the messages a request publishes ----------------------


def publish_request_id(headers=None, **kwargs) -> None:
    """`before_task_publish`: put the current request's id into the message headers."""
    request_id = request_id_var.get()
    if request_id is not None and headers is not None:
        headers.setdefault(CELERY_HEADER, request_id)


def adopt_request_id(task=None, **kwargs) -> None:
    """`task_prerun`: the message's request id is the task's for its log lines (and for
    the messages it publishes in turn, such as its own retry)."""
    request = getattr(task, "request", None)
    request_id_var.set(sane_request_id(getattr(request, CELERY_HEADER, None)))


def drop_request_id(**kwargs) -> None:
    """`task_postrun`: a worker thread's next task starts without the id."""
    request_id_var.set(None)
