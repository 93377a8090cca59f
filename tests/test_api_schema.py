"""The API answers as its OpenAPI schema (/api/schema/) says.

Schemathesis calls every operation of the schema with inputs it generates from it (the
schema's boundaries and random cases), as an integrator and as an editor, against a
database holding tasks in each state, a published post with two versions and the
editor's decision. No answer may be a 5xx; its status code must be documented, and its
content type and body must be what the schema says of that status.

Nothing is excluded: a DELETE or a transition changes only its own test's data (each
test runs in a savepoint rolled back at its end), the CSV export is documented as
text/csv, and health's 503 is documented (no worker runs here)."""

import uuid

import httpx2
import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connections, transaction
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from approvals.services import approval_decide, comment_add
from publishing.services import post_update
from tasks.runner import run_pipeline
from tasks.selectors import task_result
from tasks.services.webhooks import webhook_create

from .factories import UserFactory, token_for
from .publishing.factories import PostFactory
from .tasks.factories import ContentTaskFactory

PASSWORD = "a-long-test-password"  # every UserFactory user's
# Generated cases per operation and role, beside those of the schema's boundaries.
EXAMPLES = 25

CONFIG_OPERATIONS = [
    {
        # No Celery worker runs beside these tests, so health answers its documented
        # 503 ("workers": "error"); any other 5xx still fails.
        "include-name": "GET /api/health/",
        "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "4xx", "503"]}},
    }
]
CONFIG = schemathesis.Config.from_dict({"operations": CONFIG_OPERATIONS})

# In process, through Django's WSGI handler: requests run in the test's thread, so they
# see the test's transaction.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler(), config=CONFIG)
# Reading the schema at import ran a request, whose signals opened the connection pool
# on the database named before pytest-django switches to the test database: a pool
# kept from here would serve every later test (and the servers they start) the wrong
# database. Closed, it is opened again on the test database when first used.
for _connection in connections.all():
    _connection.close_pool()

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# What api_world made: path parameters and some bodies draw from these half the time,
# so that operations on existing objects run, not only the 404 of a random id.
KNOWN: dict[str, list] = {}


def _known(name: str):
    # Read when a case is drawn, not when the strategy is built (before api_world runs).
    return st.integers(0, 7).map(lambda i: KNOWN[name][i % len(KNOWN[name])])


@schema.hook
def before_generate_path_parameters(context, strategy):
    names = [parameter.name for parameter in context.operation.path_parameters]
    return st.one_of(strategy, st.fixed_dictionaries({name: _known(name) for name in names}))


@schema.hook
def before_generate_body(context, strategy):
    if context.operation.label == "POST /api/auth/token/":
        return st.one_of(strategy, _known("credentials"))
    if context.operation.label == "POST /api/tasks/bulk/":
        actions = st.sampled_from(["cancel", "delete", "pause", "resume"])
        bulk = st.fixed_dictionaries(
            {"task_ids": st.lists(_known("id"), min_size=1), "action": actions}
        )
        return st.one_of(strategy, bulk)
    return strategy


@pytest.fixture(scope="module")
def api_world(django_db_setup, django_db_blocker):
    """The integrator's tasks: published (through the editor's decision, its post then
    edited once: two versions), awaiting approval with a draft, pending, paused,
    failed and awaiting its plan; and a webhook of theirs. Made once for the module
    inside a transaction rolled back at its end; each test's own transaction (a
    savepoint inside it) undoes what its requests changed, so every operation starts
    from this state. Returns each role's token."""
    # Django closes "old" connections when a request starts and ends; here that would
    # end the transaction these rows live in (Django's test client disconnects them too).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            integrator = UserFactory()
            # Staff as well, so the staff-only operation (metrics) answers 200 too.
            editor = UserFactory(editor=True, is_staff=True)
            states = ({}, {}, {}, {"status": "paused"}, {"status": "failed", "error": "Down"},
                      {"review_plan": True})  # fmt: skip
            tasks = [
                ContentTaskFactory(created_by=integrator, generate_image=False, **fields)
                for fields in states
            ]
            published, drafted, planned = tasks[0], tasks[1], tasks[-1]
            for task in (published, drafted):
                assert run_pipeline(task.pk) == "done"
            assert run_pipeline(planned.pk) == "stopped"  # awaiting its plan
            _, post = approval_decide(task_id=published.pk, reviewer=editor, approved=True)
            post.title = f"{post.title} (revised)"
            post_update(post=post, user=editor, reason="title")
            webhook = webhook_create(user=integrator, url="https://93.184.215.14/hooks")
            title = task_result(drafted)["title"]
            comment = comment_add(task_id=drafted.pk, author=editor, quote=title, body="Title?")
            KNOWN["cid"] = [comment.pk, 2**63 - 1]
            KNOWN["id"] = [str(task.pk) for task in tasks] + [str(webhook.pk), str(uuid.uuid4())]
            KNOWN["slug"] = [post.slug, "no-such-post"]
            KNOWN["version_id"] = list(post.history.values_list("history_id", flat=True))
            KNOWN["credentials"] = [
                {"username": user.username, "password": PASSWORD} for user in (integrator, editor)
            ]
            yield {"integrator": token_for(integrator), "editor": token_for(editor)}
        finally:
            KNOWN.clear()
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


@pytest.fixture(params=["integrator", "editor"])
def role(request):
    return request.param


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    # Repeatable in CI: the same cases every run, no local example database, and a
    # failure reported as found rather than shrunk (shrinking can take minutes).
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    deadline=None,
    # api_world and the test's transaction serve all of a test's cases, on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_as_its_schema_says(case, api_world, role, db):
    case.call_and_validate(headers={"Authorization": f"Token {api_world[role]}"}, checks=CHECKS)


def test_a_wrong_token_answers_401_wherever_the_schema_says_it_can(db):
    # The fuzzing above always sends a valid token; anonymous readers' operations too
    # refuse a token that is not one.
    client = APIClient()
    paths = client.get("/api/schema/?format=json").json()["paths"]
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    readable = [path for path, ops in paths.items() if "get" in ops and "{" not in path]
    assert "/api/tags/" in readable and "/api/tasks/" in readable
    for path in readable:
        response = client.get(path, {"q": "garden"})
        assert response.status_code == 401, path
        assert "401" in paths[path]["get"]["responses"], path
        assert "detail" in response.json(), path


@pytest.mark.parametrize(
    "path", ["/api/tags/", "/api/categories/", "/api/approvals/", "/api/posts/{slug}/versions/"]
)
def test_a_person_browsing_a_list_gets_drf_s_page_not_a_500(editor_client, path):
    # The browsable API's filter form asks the view for its queryset; these lists had none.
    post = PostFactory(tags=["soil"], category="Gardening")
    response = editor_client.get(path.format(slug=post.slug), HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


def test_a_write_to_an_unknown_api_path_answers_a_json_404_not_a_csrf_page(db):
    # As a browser would send it: Django's CSRF check used to answer an HTML 403 first.
    response = APIClient(enforce_csrf_checks=True).post("/api/tasks/0.5/cancel/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


# --- Through the server `make run` starts ---------------------------------------------------
# The cases above run in process, through Django's WSGI handler: what the server in front of
# Django does with a request is not in them. daphne's Twisted used to answer a form body it
# could not parse itself (a bare 400: no Content-Type, no body) before Django saw it. Here
# the schema's coverage cases of every operation (each boundary, missing and wrong-typed
# field, empty body, undeclared media type) go through daphne, with DEBUG as `make run`
# has it, under the same checks.
LIVE_CONFIG = schemathesis.Config.from_dict(
    {
        "phases": {"examples": {"enabled": False}, "fuzzing": {"enabled": False}},
        "operations": CONFIG_OPERATIONS,
    }
)


# The same schema, called over HTTP: the server's address is known only once it runs.
live_schema = schemathesis.openapi.from_dict(schema.raw_schema, config=LIVE_CONFIG)


@pytest.fixture
def live_token(transactional_db):
    """An editor's token the server sees (committed); staff too, for the metrics."""
    return token_for(UserFactory(editor=True, is_staff=True))


@live_schema.parametrize()
@settings(derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
def test_every_operation_answers_as_its_schema_says_through_the_asgi_server(
    case, asgi_server, live_token
):
    case.call_and_validate(
        base_url=asgi_server.url, headers={"Authorization": f"Token {live_token}"}, checks=CHECKS
    )


@pytest.mark.django_db(transaction=True)
def test_an_empty_multipart_form_reaches_the_api_and_answers_its_json_400(asgi_server):
    token = token_for(UserFactory())
    boundary = uuid.uuid4().hex
    response = httpx2.post(
        f"{asgi_server.url}/api/webhooks/",
        content=f"--{boundary}--\r\n".encode(),
        headers={
            "Authorization": f"Token {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"url": ["This field is required."]}
    assert "X-Request-ID" in response.headers  # Django answered, not the server under it


def test_a_form_with_more_fields_than_django_reads_is_a_json_400_with_debug_on(
    integrator_client, settings
):
    # Django's own answer to it, with DEBUG on (as `make run` has it), is its HTML page.
    settings.DEBUG = True
    fields = "&".join(f"task_ids={i}" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = integrator_client.post(
        "/api/tasks/bulk/", fields, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "DATA_UPLOAD_MAX_NUMBER_FIELDS" in response.json()["detail"]


def test_every_operation_documents_the_503_of_a_database_out_of_reach(db):
    paths = APIClient().get("/api/schema/?format=json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            answer = operation["responses"].get("503")
            assert answer is not None, f"{method.upper()} {path}"
            assert "Retry-After" in answer.get("headers", {}), f"{method.upper()} {path}"
