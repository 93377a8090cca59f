"""One structured log line per HTTP request, and a request id that every log line of
the request carries: the client's when it is sane, a new uuid4 otherwise, answered in
the `X-Request-ID` header; under WSGI, ASGI and at the edge page cache."""

import io
import json
import logging
import os
import subprocess
import sys
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator
from django.db import OperationalError
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.utils.functional import SimpleLazyObject

from contentpipeline import cache as app_cache
from contentpipeline.asgi import application  # set up (and its logging) before any test
from contentpipeline.edge_cache import EdgePageCache
from contentpipeline.middleware import RequestLogMiddleware
from contentpipeline.observability import JsonFormatter, RequestIdFilter, TextFormatter

from ..conftest import ROOT, client_for
from ..factories import UserFactory, token_for

HOSTILE_IDS = [
    "two\nlines",
    '{"forged": "json"}',
    "<script>alert(1)</script>",
    "spaces are not allowed",
    "x" * 129,
    "",
    "caf\u00e9",
]


class LogLines:
    """What the root logger's records look like through the project's JSON formatter
    and request-id filter (as the console handler of the settings has them)."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)
        self.handler.addFilter(RequestIdFilter())

    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.text().splitlines()]

    def requests(self) -> list[dict]:
        return [line for line in self.records() if line.get("event") == "http_request"]


@pytest.fixture
def log_lines():
    lines = LogLines(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(lines.handler)
    yield lines
    root.removeHandler(lines.handler)


def is_uuid4(value: str) -> bool:
    try:
        return uuid.UUID(value).version == 4 and str(uuid.UUID(value)) == value
    except ValueError:
        return False


@pytest.mark.django_db
def test_a_request_is_one_json_line_with_method_path_status_duration_user_and_id(log_lines):
    user = UserFactory()
    response = client_for(user).get("/api/tasks?limit=5")
    assert response.status_code == 200
    (line,) = log_lines.requests()
    assert line["method"] == "GET"
    assert line["path"] == "/api/tasks"  # the query is not logged (it may hold a token)
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert line["user"] == user.pk
    assert line["level"] == "INFO" and line["logger"] == "contentpipeline.requests"
    assert is_uuid4(line["request_id"])
    assert line["request_id"] == response["X-Request-ID"]


@pytest.mark.django_db
def test_an_anonymous_request_and_a_refused_one_are_logged_with_no_user(log_lines):
    Client().get("/api/posts")
    client_for().post("/api/tasks", {"topic": "Nobody may"}, format="json")
    anonymous, refused = log_lines.requests()
    assert (anonymous["status"], anonymous["user"]) == (200, None)
    assert (refused["method"], refused["status"], refused["user"]) == ("POST", 401, None)


@pytest.mark.django_db
def test_a_session_users_id_is_logged_even_where_the_view_never_looked_at_the_user(log_lines):
    user = UserFactory()
    client = Client()
    client.force_login(user)
    client.get("/feed/")
    assert log_lines.requests()[-1]["user"] == user.pk


@pytest.mark.django_db
def test_djangos_own_line_for_a_refused_request_carries_the_id_and_not_the_query(log_lines):
    response = Client().get("/api/no-such-thing?token=secret-in-the-query")
    assert response.status_code == 404
    (django_line,) = [r for r in log_lines.records() if r["logger"] == "django.request"]
    assert django_line["message"] == "Not Found: /api/no-such-thing"
    assert django_line["request_id"] == response["X-Request-ID"]
    assert "secret-in-the-query" not in log_lines.text()


@pytest.mark.django_db
def test_a_clients_sane_request_id_is_kept_and_answered(log_lines):
    given = "edge-7f3a:2026.11/req=1+2_x"
    response = Client().get("/api/posts", headers={"X-Request-ID": given})
    assert response["X-Request-ID"] == given
    assert log_lines.requests()[0]["request_id"] == given


@pytest.mark.django_db
@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_a_hostile_request_id_is_replaced_by_a_new_one(log_lines, hostile):
    response = Client().get("/api/posts", HTTP_X_REQUEST_ID=hostile)
    assert response.status_code == 200
    assert is_uuid4(response["X-Request-ID"])
    (line,) = log_lines.requests()
    assert line["request_id"] == response["X-Request-ID"]
    if hostile:
        assert hostile not in log_lines.text()


@pytest.mark.django_db
def test_a_request_refused_for_a_nul_byte_is_logged_with_a_new_id(log_lines):
    response = Client().get("/api/posts", HTTP_X_REQUEST_ID="abc\x00def")
    assert response.status_code == 400
    (line,) = log_lines.requests()
    assert line["status"] == 400 and is_uuid4(line["request_id"])


@pytest.mark.django_db
def test_control_characters_of_a_path_cannot_forge_a_text_log_line():
    lines = LogLines(TextFormatter())
    logger = logging.getLogger("contentpipeline.requests")
    logger.addHandler(lines.handler)
    try:
        Client().get("/tags/x%0A2026-01-01 00:00:00,000 ERROR forged: boo/")
    finally:
        logger.removeHandler(lines.handler)
    (line,) = lines.text().splitlines()
    assert "GET /tags/x\\n2026-01-01 00:00:00,000 ERROR forged: boo/ 404 " in line
    assert "[request " in line


def test_every_line_logged_while_a_request_runs_carries_its_id(log_lines):
    def view(request):
        logging.getLogger("tasks.something").warning("inside the view")
        return HttpResponse("ok")

    response = RequestLogMiddleware(view)(RequestFactory().get("/x", HTTP_X_REQUEST_ID="abc-1"))
    inside, request_line = log_lines.records()
    assert inside["message"] == "inside the view" and inside["request_id"] == "abc-1"
    assert request_line["request_id"] == "abc-1" == response["X-Request-ID"]
    logging.getLogger("tasks.something").warning("after the request")
    assert log_lines.records()[-1]["request_id"] is None


def unreachable_user():
    raise OperationalError("the database is down")


def test_a_user_lookup_that_fails_after_the_answer_is_logged_as_no_user(log_lines):
    request = RequestFactory().get("/x", HTTP_COOKIE="sessionid=" + "a" * 32)
    request.user = SimpleLazyObject(unreachable_user)  # as AuthenticationMiddleware sets it
    response = RequestLogMiddleware(lambda request: HttpResponse("ok"))(request)
    assert response.status_code == 200
    assert log_lines.requests()[0]["user"] is None


async def test_under_asgi_a_failing_user_lookup_is_logged_as_no_user(log_lines):
    async def auser():
        unreachable_user()

    @sync_to_async
    def view(request):
        return HttpResponse("ok")

    request = RequestFactory().get("/x", HTTP_COOKIE="sessionid=" + "a" * 32)
    request.user, request.auser = SimpleLazyObject(unreachable_user), auser
    response = await RequestLogMiddleware(view)(request)
    assert response.status_code == 200
    assert log_lines.requests()[0]["user"] is None


async def test_under_asgi_the_user_the_view_read_is_logged_without_a_second_lookup(log_lines):
    class Known:
        pk, is_authenticated = 7, True

    lookups = []

    def look_up():
        lookups.append(1)
        return Known()

    async def auser():
        return look_up()

    @sync_to_async
    def view(request):
        assert request.user.pk == 7  # the view reads the session's user
        return HttpResponse("ok")

    request = RequestFactory().get("/x", HTTP_COOKIE="sessionid=" + "a" * 32)
    request.user, request.auser = SimpleLazyObject(look_up), auser
    response = await RequestLogMiddleware(view)(request)
    assert response.status_code == 200
    assert log_lines.requests()[0]["user"] == 7
    assert len(lookups) == 1


async def test_under_asgi_the_id_reaches_the_views_thread_and_is_gone_after(log_lines):
    @sync_to_async
    def view(request):  # a sync view, run in a thread as Django runs it under ASGI
        logging.getLogger("tasks.something").warning("in a thread")
        return HttpResponse("ok")

    middleware = RequestLogMiddleware(view)
    response = await middleware(RequestFactory().get("/x", HTTP_X_REQUEST_ID="async-1"))
    assert response["X-Request-ID"] == "async-1"
    inside, request_line = log_lines.records()
    assert inside["request_id"] == "async-1" == request_line["request_id"]
    logging.getLogger("tasks.something").warning("after the request")
    assert log_lines.records()[-1]["request_id"] is None


@pytest.mark.django_db(transaction=True)
async def test_a_request_to_the_asgi_application_is_logged_with_its_token_user(log_lines):
    user = await sync_to_async(UserFactory)()
    token = await sync_to_async(token_for)(user)
    communicator = HttpCommunicator(
        application,
        "GET",
        "/api/tasks",
        headers=[
            (b"host", b"localhost"),
            (b"authorization", f"Token {token}".encode()),
            (b"x-request-id", b"asgi-request-1"),
        ],  # fmt: skip
    )
    response = await communicator.get_response()
    assert response["status"] == 200
    assert (b"X-Request-ID", b"asgi-request-1") in response["headers"]
    (line,) = log_lines.requests()
    assert (line["path"], line["status"], line["user"]) == ("/api/tasks", 200, user.pk)
    assert line["request_id"] == "asgi-request-1"


class Page:
    """An inner ASGI app answering a shareable page with its own request id, as Django
    behind the edge does."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope, receive, send) -> None:
        self.calls += 1
        headers = [(b"content-type", b"text/html; charset=utf-8"),
                   (b"x-page-cache", b"content"), (b"X-Request-ID", b"first-answer")]  # fmt: skip
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"page"})


async def test_a_page_answered_at_the_edge_is_logged_with_a_request_id_of_its_own(log_lines):
    inner = Page()
    app = EdgePageCache(inner)
    path = f"/edge-log/{uuid.uuid4().hex}/"
    await HttpCommunicator(app, "GET", path, headers=[(b"host", b"site")]).get_response()
    given = await HttpCommunicator(
        app, "GET", path, headers=[(b"host", b"site"), (b"x-request-id", b"reader-42")]
    ).get_response()
    fresh = await HttpCommunicator(app, "GET", path, headers=[(b"host", b"site")]).get_response()
    assert inner.calls == 1 and app_cache.cache_available()
    ids = [dict((k.lower(), v) for k, v in r["headers"])[b"x-request-id"] for r in (given, fresh)]
    assert ids[0] == b"reader-42" and is_uuid4(ids[1].decode())
    assert [(r["path"], r["status"], r["user"], r["request_id"]) for r in log_lines.requests()] == [
        (path, 200, None, "reader-42"),
        (path, 200, None, ids[1].decode()),
    ]


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "contentpipeline.settings", **env}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.mark.processes
def test_log_format_json_makes_every_console_line_a_json_object():
    code = (
        "import django, logging; django.setup(); "
        "from django.test import Client; from django.test.utils import setup_test_environment; "
        "setup_test_environment(); Client().get('/no-such-page/'); "
        "from contentpipeline.observability import request_id_var; "
        "import warnings; warnings.warn('a library warns', DeprecationWarning); "
        "request_id_var.set('cli-1'); logging.getLogger('tasks.x').warning('hello %s', 'there')"
    )
    result = run_python(code, LOG_FORMAT="json", DEBUG="true")  # Django's debug lines too
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [line["message"] for line in lines if line["logger"] == "django.request"] == [
        "Not Found: /no-such-page/"
    ]
    warned = [line for line in lines if line["logger"] == "py.warnings"]
    assert len(warned) == 1 and "a library warns" in warned[0]["message"]
    last = lines[-1]
    assert (last["message"], last["level"], last["logger"]) == ("hello there", "WARNING", "tasks.x")
    assert last["request_id"] == "cli-1" and last["time"].endswith("+00:00")


@pytest.mark.processes
def test_log_format_text_is_for_people_and_an_unknown_format_stops_the_start():
    text = run_python(
        "import django, logging; django.setup(); logging.getLogger('tasks.x').warning('plain')",
        LOG_FORMAT="text",
    )
    assert text.returncode == 0 and text.stderr.splitlines()[-1].endswith("WARNING tasks.x: plain")
    wrong = run_python("import django; django.setup()", LOG_FORMAT="xml")
    assert wrong.returncode != 0 and "LOG_FORMAT='xml' is unknown" in wrong.stderr


@pytest.mark.processes
def test_a_process_starting_django_writes_nothing_to_its_console():
    """Every manage.py command starts Django: no library's banner on each."""
    result = run_python("import django; django.setup()", LOG_FORMAT="json")
    assert result.returncode == 0 and result.stderr == "" and result.stdout == ""
