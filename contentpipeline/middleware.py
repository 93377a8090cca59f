"""The request's edges: its id and log line (`RequestLogMiddleware`, first of all),
requests that must not reach a view: NUL bytes anywhere a client controls (PostgreSQL
refuses them in text, so they used to surface as 500s from a session lookup, an admin
filter or a token check), and bodies larger than the upload limit; and views that
needed the database while it could not be reached (503, not 500)."""

import logging
import time
from urllib.parse import unquote_to_bytes

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.functional import SimpleLazyObject

from .database import database_unreachable
from .errors import DATABASE_UNAVAILABLE, database_unavailable_headers
from .observability import REQUEST_ID_HEADER, record_request, request_id_for, request_id_var

logger = logging.getLogger(__name__)


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def error_response(request: HttpRequest, status: int, detail: str) -> HttpResponse:
    """JSON `{"detail": ...}` under /api/, a short text page elsewhere."""
    if is_api(request):
        return JsonResponse({"detail": detail}, status=status)
    return HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")


def _has_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path:
        return True
    if b"\x00" in unquote_to_bytes(request.META.get("QUERY_STRING", "")):
        return True
    return any(
        "\x00" in value
        for key, value in request.META.items()
        if key.startswith("HTTP_") and isinstance(value, str)
    )


class RejectMalformedRequestsMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request):
            return error_response(request, 400, "The request contains a NUL byte.")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(request, 400, "Content-Length is not a number.")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            return error_response(request, 413, f"The request body is larger than {limit} bytes.")
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """A view outside DRF (the admin, the public site, the API's own 404) that needed the
    database while it could not be reached answers 503 with Retry-After, as the API's
    views do (contentpipeline.errors): JSON under /api/, a short text page elsewhere.
    Any other error goes on to Django's error pages."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not database_unreachable(exception):
            return None
        headers = database_unavailable_headers(exception)
        response = error_response(request, 503, DATABASE_UNAVAILABLE)
        for name, value in headers.items():
            response[name] = value
        response.database_unreachable = True  # see RequestLogMiddleware
        return response


_UNKNOWN = object()


def _user_id(request: HttpRequest, response: HttpResponse):
    """The id of the request's user as far as it is known without asking the database
    (None: anonymous); `_UNKNOWN` when the user is the session's (Django's lazy user,
    and a session cookie came), to be looked up: a lookup the view made already is not
    made again. DRF sets `request.user` to the user when it authenticates a token.
    None, without asking, when the answer says the database could not be reached:
    asking would wait again."""
    user = getattr(request, "user", None)
    if user is None:
        return None
    if isinstance(user, SimpleLazyObject):
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return None
        if getattr(response, "database_unreachable", False):
            return None
        return _UNKNOWN
    return user.pk if user.is_authenticated else None


def _session_user_id(get_user):
    """The session's user, looked up now; None if the lookup fails (the database is
    down, say): the answer is ready and must not turn into an error for a log line."""
    try:
        return get_user().pk
    except Exception:
        logger.warning("The request's user could not be looked up for its log line")
        return None


class RequestLogMiddleware:
    """Gives the request its id (see contentpipeline.observability), answers it in the
    `X-Request-ID` header, and logs one line when the answer is ready: method, path,
    status, duration, user, request id; the request is counted for /metrics too.
    Runs in the event loop under ASGI, so the id reaches the view's thread with the
    request's context."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    @staticmethod
    def _start(request: HttpRequest):
        """The request's arrival time and id (kept on it and in the context), and the
        context token that ends it."""
        request.request_id = request_id_for(request.headers.get(REQUEST_ID_HEADER))
        return time.perf_counter(), request.request_id, request_id_var.set(request.request_id)

    def __call__(self, request: HttpRequest):
        if self.is_async:
            return self.__acall__(request)
        started, request_id, token = self._start(request)
        try:
            response = self.get_response(request)
            user_id = _user_id(request, response)
            if user_id is _UNKNOWN:
                user_id = _session_user_id(lambda: request.user)
            self._finish(request, response, started, request_id, user_id)
            return response
        finally:
            request_id_var.reset(token)

    async def __acall__(self, request: HttpRequest):
        started, request_id, token = self._start(request)
        try:
            response = await self.get_response(request)
            user_id = _user_id(request, response)
            if user_id is _UNKNOWN:
                # The same lazy user the view may have read (request.auser() keeps a
                # cache of its own, so it would ask the database again), in the thread
                # the sync views run in.
                user_id = await sync_to_async(_session_user_id)(lambda: request.user)
            self._finish(request, response, started, request_id, user_id)
            return response
        finally:
            request_id_var.reset(token)

    @staticmethod
    def _finish(request, response, started, request_id, user_id) -> None:
        response.headers[REQUEST_ID_HEADER] = request_id
        record_request(
            method=request.method or "",
            path=request.path,
            status=response.status_code,
            started=started,
            user_id=user_id,
            request_id=request_id,
        )
