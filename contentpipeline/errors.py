"""Errors a user can cause, and the one place that maps them to HTTP; and the answer
when the database cannot be reached (503 with Retry-After; outside DRF's views,
contentpipeline.middleware.DatabaseUnavailableMiddleware gives the same)."""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .database import database_unreachable

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, extra: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class NotFound(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND


class Forbidden(ApplicationError):
    status_code = status.HTTP_403_FORBIDDEN


class InvalidTransition(ApplicationError):
    """The task is not in a state that allows this action."""

    status_code = status.HTTP_409_CONFLICT


DATABASE_UNAVAILABLE = "The database is unavailable; try again shortly."
# Seconds a client is asked to wait: a restart takes a few, and the pool reconnects
# within about one of the server's return.
DATABASE_RETRY_AFTER = 5


def database_unavailable_headers(exc: BaseException) -> dict[str, str]:
    """Log what kept the database out of reach; the headers of the 503 that says so."""
    cause = exc.__cause__ or exc
    logger.warning("The database could not be reached (%s: %s)", type(cause).__name__, cause)
    return {"Retry-After": str(DATABASE_RETRY_AFTER)}


def exception_handler(exc, context):
    if database_unreachable(exc):
        headers = database_unavailable_headers(exc)
        response = Response({"detail": DATABASE_UNAVAILABLE}, status=503, headers=headers)
        response.database_unreachable = True  # see RequestLogMiddleware
        return response
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, **exc.extra}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoPermissionDenied):
        return Response({"detail": "Permission denied."}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, SuspiciousOperation):
        # A body Django's form parsers refuse (too many fields or files, too large):
        # Django would answer its own 400 page, an HTML one while DEBUG is on. Logged
        # where Django logs these.
        logging.getLogger(f"django.security.{exc.__class__.__name__}").warning("%s", exc)
        if isinstance(exc, RequestDataTooBig):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return Response({"detail": f"The request body is larger than {limit} bytes."},
                            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)  # fmt: skip
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


def each_on_its_own(ids, act) -> list[dict]:
    """`act(id)` for each id, each on its own: an ApplicationError is that id's result
    and does not stop the others. `act` returns `(task_id, status)` to report. One
    `{task_id, ok, status, error}` per id, in order (the bulk endpoints' shape)."""
    results = []
    for item in ids:
        try:
            task_id, status = act(item)
        except ApplicationError as exc:
            results.append({"task_id": str(item), "ok": False,
                            "status": exc.extra.get("status"), "error": exc.message})  # fmt: skip
        else:
            results.append({"task_id": str(task_id), "ok": True, "status": status,
                            "error": None})  # fmt: skip
    return results
