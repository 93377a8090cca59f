"""The nastiest input each field can get answers a clear 4xx (JSON under /api/), and
changes nothing. Most go through Django's test client; what only a real server lets
through (raw bytes in a URL, a lying Content-Length) goes to daphne over a socket."""

import json
import socket

import pytest

from tasks.models import ContentTask

from .conftest import client_for
from .factories import UserFactory
from .tasks.factories import ContentTaskFactory

pytestmark = pytest.mark.django_db

SMALL = {"topic": "Hostile input and how to survive it", "target_length": 100}


def assert_json_error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert "detail" in body
    return body


@pytest.mark.parametrize("path", ["/api/posts/%00", "/api/posts/a%00b", "/api/tasks/%00"])
def test_a_nul_byte_in_an_api_path_is_a_json_400(client, path):
    response = client.get(path)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("path", ["/api/posts", "/admin/", "/", "/api/tasks"])
def test_a_nul_byte_in_the_session_cookie_is_refused(client, path):
    response = client.get(path, HTTP_COOKIE="sessionid=abcdefgh\x00ijklmnop")
    assert response.status_code == 400
    if path.startswith("/api/"):
        assert_json_error(response, 400)


@pytest.mark.parametrize(("path", "status"), [("/api/posts", 200), ("/admin/", 302)])
def test_a_quoted_nul_byte_in_the_session_cookie_is_no_session(client, path, status):
    # A cookie library writes the NUL as an octal escape; Django unquotes it again.
    client.cookies["sessionid"] = "abcdefgh\x00ijklmnop"
    assert client.get(path).status_code == status


def test_a_session_cookie_django_could_not_have_issued_is_no_session(client):
    client.cookies["sessionid"] = "not/a-real-session;key"
    assert client.get("/api/posts").status_code == 200
    assert client.get("/admin/").status_code == 302  # to the login page


@pytest.mark.parametrize(
    "query",
    [
        "status__exact=%00",
        "q=%00",
        "priority__exact=a%00b",
        "o=%00",
        "created_by__id__exact=%00",
    ],
)
def test_a_nul_byte_in_admin_filters_is_refused(editor, query):
    from django.test import Client

    client = Client()
    client.force_login(editor)
    response = client.get(f"/admin/tasks/contenttask/?{query}")
    assert response.status_code == 400


def test_a_nul_byte_in_a_token_header_is_refused(client):
    response = client.get("/api/tasks", HTTP_AUTHORIZATION="Token abc\x00def")
    assert_json_error(response, 400)


@pytest.mark.parametrize("field", ["topic", "category", "target_audience", "primary_keyword"])
def test_a_nul_byte_in_a_task_field_is_a_400_and_stores_nothing(integrator_client, field):
    body = {**SMALL, field: "Plain words\x00then more words"}
    response = integrator_client.post("/api/tasks", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not ContentTask.objects.exists()


def test_a_nul_byte_in_a_keyword_is_a_400(integrator_client):
    response = integrator_client.post(
        "/api/tasks", {**SMALL, "keywords": ["fine", "bad\x00"]}, format="json"
    )
    assert response.status_code == 400
    assert not ContentTask.objects.exists()


@pytest.mark.parametrize("param", ["offset", "limit"])
@pytest.mark.parametrize("value", [str(10**20), str(2**63), "99999999999999999999999999"])
def test_a_huge_limit_or_offset_is_answered_without_reaching_the_database(
    editor_client, param, value
):
    ContentTaskFactory.create_batch(3, created_by=UserFactory())
    response = editor_client.get(f"/api/tasks?{param}={value}")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert len(body["results"]) == (3 if param == "limit" else 0)
    assert client_for().get(f"/api/posts?{param}={value}").status_code == 200


def test_limit_is_capped_at_its_documented_maximum(editor_client):
    ContentTaskFactory.create_batch(105, created_by=UserFactory())
    body = editor_client.get("/api/tasks?limit=1000").json()
    assert body["count"] == 105
    assert len(body["results"]) == 100


def test_a_deeply_nested_json_body_is_a_400(integrator_client):
    body = "[" * 100_000 + "]" * 100_000
    response = integrator_client.post("/api/tasks", body, content_type="application/json")
    assert_json_error(response, 400)
    assert not ContentTask.objects.exists()


def test_a_body_over_the_limit_is_a_413(integrator_client, settings):
    body = json.dumps({**SMALL, "target_audience": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE)})
    response = integrator_client.post("/api/tasks", body, content_type="application/json")
    assert_json_error(response, 413)
    assert not ContentTask.objects.exists()


def test_a_long_media_path_is_a_404(client):
    assert client.get("/media/" + "a" * 5000).status_code == 404
    assert client.get("/media/covers/" + "b" * 5000 + ".png").status_code == 404
    assert client.get("/media/../settings.py").status_code == 404


@pytest.mark.parametrize(
    "path", ["/api/nothing-here", "/api/tasks/123/nonsense", "/api/v2/", "/api/posts/a.b"]
)
def test_an_unknown_api_path_is_a_json_404(client, path):
    assert_json_error(client.get(path), 404)


def test_an_unknown_api_path_is_a_json_404_with_debug_off(client, settings):
    settings.DEBUG = False
    assert_json_error(client.get("/api/nowhere"), 404)


@pytest.mark.parametrize(
    ("field", "wrong", "message"),
    [
        ({"task_ids": ["\x00"], "action": "cancel"}, "task_ids", "Null characters"),
        ({"task_ids": ["x" * 100], "action": "cancel"}, "task_ids", "no more than 64"),
        ({"task_ids": [{"nested": "object"}], "action": "cancel"}, "task_ids", "a valid string"),
        ({"task_ids": list(range(501)), "action": "cancel"}, "task_ids", "no more than 500"),
        ({"task_ids": ["a"], "action": "\x00"}, "action", "is not a valid choice"),
    ],
)
def test_a_hostile_bulk_request_is_a_400_naming_what_is_wrong(
    integrator_client, field, wrong, message
):
    response = integrator_client.post("/api/tasks/bulk", field, format="json")
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert list(body) == [wrong]
    assert message in json.dumps(body[wrong])


def _raw_http(server, request: bytes) -> tuple[int, bytes, bytes]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, head, body


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "target",
    [
        b"/api/%ff%fe",
        b"/api/tasks/%c0%af/",
        b"/api/posts/%ff",
        b"/api/tasks?ordering=%ff",
        b"/api/tasks?limit=%00",
        b"/api/" + b"a" * 8000,
    ],
)
def test_urls_only_a_real_server_lets_through_are_json_4xx(asgi_server, target):
    status, head, body = _raw_http(
        asgi_server,
        b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    assert 400 <= status < 500, (status, body[:200])
    assert b"application/json" in head.lower(), head


@pytest.mark.django_db(transaction=True)
def test_a_body_larger_than_announced_limit_is_refused_by_the_real_server(asgi_server):
    user = UserFactory()
    from .factories import token_for

    token = token_for(user).encode()
    size = 5 * 1024 * 1024
    request = (
        b"POST /api/tasks HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        b"Authorization: Token " + token + b"\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(size).encode() + b"\r\n\r\n" + b"[" * size
    )
    status, head, _ = _raw_http(asgi_server, request)
    assert status == 413
    assert b"application/json" in head.lower()
    assert not ContentTask.objects.exists()
