"""The audit trail: `GET /api/approvals` (filters, permissions, the streamed CSV export)
and `GET /api/tasks/{id}/history` (one task's timeline)."""

import csv
import io
from datetime import datetime, timedelta
from http.client import HTTPConnection

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import connection
from django.db.models.signals import post_init
from django.test import AsyncClient
from django.utils import timezone

from approvals.models import ApprovalDecision, Decision
from approvals.selectors import CSV_CHUNK_SIZE
from approvals.services import approval_decide, post_edit, review_claim
from publishing.models import Post
from tasks.runner import run_pipeline
from tasks.services import task_create

from ..conftest import client_for
from ..factories import UserFactory, token_for
from ..tasks.factories import ContentTaskFactory

# The writing is not what these tests are about: QuickWriter writes (tests/fakes.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_writer")]

HEADER = ["id", "task_id", "generation", "round", "decision", "reviewer", "claimed_by",
          "feedback", "content_hash", "publish_at", "request_ip", "created_at",
          "acknowledged_claims", "step", "step_name"]  # fmt: skip


def drafted(owner):
    """A task of `owner`'s that went through the real (offline) pipeline, in this process."""
    task = ContentTaskFactory(created_by=owner)
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    assert task.status == "awaiting_approval"
    return task


@pytest.fixture
def other_editor(db):
    return UserFactory(editor=True, username="second-editor")


@pytest.fixture
def decisions(integrator, editor, other_editor):
    """Three decisions on three drafted tasks, in this order: approved by `editor`,
    rejected by `other_editor`, changes requested by `editor`."""
    approved, _ = approval_decide(
        task_id=drafted(integrator).pk, reviewer=editor, approved=True, feedback="Ship it"
    )
    rejected, _ = approval_decide(
        task_id=drafted(integrator).pk,
        reviewer=other_editor,
        approved=False,
        feedback="Off topic",
    )
    changes, _ = approval_decide(
        task_id=drafted(integrator).pk,
        reviewer=editor,
        approved=False,
        feedback="Add rainfall figures",
        regenerate=True,
    )
    return approved, rejected, changes


def listed_ids(client, **params) -> list[int]:
    response = client.get("/api/approvals", params)
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def csv_rows(response) -> list[list[str]]:
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


# --- GET /api/approvals ------------------------------------------------------------------


def test_editors_see_every_decision_newest_first_with_its_fields(editor_client, decisions):
    approved, rejected, changes = decisions
    response = editor_client.get("/api/approvals")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3 and body["next"] is None
    assert [item["id"] for item in body["results"]] == [changes.pk, rejected.pk, approved.pk]
    item = body["results"][1]
    assert item["task_id"] == str(rejected.task_id)
    assert item["decision"] == "rejected" and item["reviewer"] == "second-editor"
    assert item["feedback"] == "Off topic"
    assert item["generation"] == 1 and item["round"] == 1
    assert item["content_hash"] == rejected.content_hash and len(item["content_hash"]) == 64
    assert item["claimed_by"] is None and item["publish_at"] is None
    assert item["created_at"].startswith(rejected.created_at.strftime("%Y-%m-%dT%H:%M:%S"))


def test_the_list_is_paginated_with_limit_and_offset(editor_client, decisions):
    body = editor_client.get("/api/approvals", {"limit": 1, "offset": 1}).json()
    assert body["count"] == 3 and len(body["results"]) == 1
    assert body["results"][0]["id"] == decisions[1].pk
    assert "offset=2" in body["next"] and body["previous"] is not None


def test_filtering_by_task_lists_only_that_tasks_decisions(editor_client, decisions):
    assert listed_ids(editor_client, task=str(decisions[1].task_id)) == [decisions[1].pk]


def test_filtering_by_reviewer_matches_the_username(editor_client, editor, decisions):
    approved, rejected, changes = decisions
    assert listed_ids(editor_client, reviewer=editor.username) == [changes.pk, approved.pk]
    assert listed_ids(editor_client, reviewer="second-editor") == [rejected.pk]
    assert listed_ids(editor_client, reviewer="nobody") == []


def test_filtering_by_decision(editor_client, decisions):
    approved, rejected, changes = decisions
    assert listed_ids(editor_client, decision="approved") == [approved.pk]
    assert listed_ids(editor_client, decision="rejected") == [rejected.pk]
    assert listed_ids(editor_client, decision="changes_requested") == [changes.pk]


def test_since_includes_decisions_made_at_or_after_it(editor_client, decisions):
    approved, rejected, changes = decisions
    since = rejected.created_at.isoformat()
    assert listed_ids(editor_client, since=since) == [changes.pk, rejected.pk]


def test_until_includes_only_decisions_made_before_it(editor_client, decisions):
    approved, rejected, changes = decisions
    until = rejected.created_at.isoformat()
    assert listed_ids(editor_client, until=until) == [approved.pk]
    both = {"since": approved.created_at.isoformat(), "until": changes.created_at.isoformat()}
    assert listed_ids(editor_client, **both) == [rejected.pk, approved.pk]


def test_filters_combine(editor_client, editor, decisions):
    approved, rejected, changes = decisions
    ids = listed_ids(
        editor_client, reviewer=editor.username, decision="approved", task=str(approved.task_id)
    )
    assert ids == [approved.pk]
    assert listed_ids(editor_client, reviewer=editor.username, decision="rejected") == []


def test_blank_filters_are_ignored(editor_client, decisions):
    assert len(listed_ids(editor_client, task="", reviewer="", decision="", since="")) == 3


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"task": "not-a-uuid"}, "task"),
        ({"task": "1' OR '1'='1"}, "task"),
        ({"reviewer": "x" * 151}, "reviewer"),
        ({"decision": "maybe"}, "decision"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2024-13-45T99:00:00Z"}, "until"),
        ({"since": "0001-01-01T00:00:00+05:00"}, "since"),
        ({"since": "2025-02-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"}, "until"),
        ({"format": "xml"}, "format"),
        ({"format": "csv", "decision": "maybe"}, "decision"),
    ],
)
def test_a_bad_filter_value_answers_400_naming_the_field(editor_client, params, field):
    response = editor_client.get("/api/approvals", params)
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    assert field in response.json()


@pytest.mark.parametrize("params", [{}, {"format": "csv"}])
def test_anonymous_users_get_401(anon_client, params):
    response = anon_client.get("/api/approvals", params)
    assert response.status_code == 401
    assert "detail" in response.json()


@pytest.mark.parametrize("params", [{}, {"format": "csv"}])
def test_integrators_get_403(integrator_client, params):
    response = integrator_client.get("/api/approvals", params)
    assert response.status_code == 403
    assert response.json() == {"detail": "Only editors can do this."}


@pytest.mark.parametrize("path", ["/api/approvals", "/api/approvals/"])
def test_editors_get_200_with_or_without_the_slash(editor_client, path):
    response = editor_client.get(path)
    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_format_json_is_still_the_json_list(editor_client, decisions):
    response = editor_client.get("/api/approvals", {"format": "json"})
    assert response.status_code == 200 and response.json()["count"] == 3


def test_the_csv_export_holds_every_row_not_one_page(editor_client, decisions):
    response = editor_client.get("/api/approvals", {"format": "csv", "limit": 1, "offset": 1})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="approvals.csv"'
    rows = csv_rows(response)
    assert rows[0] == HEADER
    assert [int(row[0]) for row in rows[1:]] == [record.pk for record in reversed(decisions)]


def test_the_csv_export_applies_the_filters(editor_client, decisions):
    response = editor_client.get("/api/approvals", {"format": "csv", "decision": "rejected"})
    rows = csv_rows(response)
    assert len(rows) == 2 and rows[1][0] == str(decisions[1].pk)


def test_csv_values_are_the_decisions_fields(editor_client, integrator, editor, other_editor):
    task = drafted(integrator)
    review_claim(task_id=task.pk, editor=other_editor)
    publish_at = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    record, _ = approval_decide(
        task_id=task.pk,
        reviewer=editor,
        approved=True,
        feedback='Fine, "mostly"; see notes,\nline two',
        publish_at=publish_at,
        request_ip="203.0.113.7",
    )
    rows = csv_rows(editor_client.get("/api/approvals", {"format": "csv"}))
    assert rows == [
        HEADER,
        [
            str(record.pk),
            str(task.pk),
            "1",
            "1",
            "approved",
            editor.username,
            "second-editor",
            'Fine, "mostly"; see notes,\nline two',
            record.content_hash,
            publish_at.isoformat(),
            "203.0.113.7",
            record.created_at.isoformat(),
            "",
            "1",
            "Editors",
        ],
    ]


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_written_as_text(
    editor_client, integrator, editor
):
    task = drafted(integrator)
    approval_decide(
        task_id=task.pk, reviewer=editor, approved=False, feedback='=HYPERLINK("http://x")'
    )
    rows = csv_rows(editor_client.get("/api/approvals", {"format": "csv"}))
    assert rows[1][HEADER.index("feedback")] == '\'=HYPERLINK("http://x")'


def many_decisions(count: int, *, reviewer, owner, per_task: int = 100) -> None:
    tasks = ContentTaskFactory.create_batch(count // per_task, created_by=owner)
    ApprovalDecision.objects.bulk_create(
        (
            ApprovalDecision(
                task=task,
                generation=1,
                round=round_,
                decision=Decision.REJECTED,
                reviewer=reviewer,
                feedback=f"note {round_} on {task.pk}",
                content_hash="a" * 64,
            )
            for task in tasks
            for round_ in range(1, per_task + 1)
        ),
        batch_size=1000,
    )


@pytest.fixture
def built_decisions():
    """How many ApprovalDecision instances have been made from rows so far."""
    counter = {"n": 0}

    def count(sender, **kwargs):
        counter["n"] += 1

    post_init.connect(count, sender=ApprovalDecision)
    yield counter
    post_init.disconnect(count, sender=ApprovalDecision)


def open_django_cursors() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_cursors WHERE name LIKE '_django_curs_%%'")
        return [name for (name,) in cursor.fetchall()]


def test_exporting_5000_decisions_streams_them_through_a_server_side_cursor(
    editor_client, editor, integrator, built_decisions
):
    many_decisions(5000, reviewer=editor, owner=integrator)
    built_decisions["n"] = 0

    response = editor_client.get("/api/approvals", {"format": "csv"})
    assert response.status_code == 200 and response.streaming
    # Nothing is read before the body is: the view only built the query.
    assert built_decisions["n"] == 0
    chunks = iter(response.streaming_content)
    first = next(chunks)
    # Mid-stream: the rows come from a cursor still open on the server, one chunk
    # of them in memory; `list(queryset)` would have built all 5,000 by now.
    assert open_django_cursors()
    assert 0 < built_decisions["n"] <= CSV_CHUNK_SIZE < 5000
    rest = b"".join(chunks)
    assert built_decisions["n"] == 5000
    assert open_django_cursors() == []

    lines = (first + rest).decode().splitlines()
    assert len(lines) == 5001
    assert lines[0] == ",".join(HEADER)
    assert len({line.split(",")[0] for line in lines[1:]}) == 5000


def test_under_asgi_the_export_streams_without_being_read_whole_first(
    editor, integrator, built_decisions
):
    """Django reads a synchronous iterator to its end before an ASGI server sends a byte
    (daphne serves this project): the view hands ASGI an asynchronous one instead."""
    many_decisions(2500, reviewer=editor, owner=integrator)
    built_decisions["n"] = 0
    token = token_for(editor)

    async def export():
        response = await AsyncClient().get(
            "/api/approvals", {"format": "csv"}, headers={"authorization": f"Token {token}"}
        )
        assert response.status_code == 200 and response.is_async
        chunks = aiter(response.streaming_content)
        first = await anext(chunks)
        built_after_first = built_decisions["n"]
        cursors = await sync_to_async(open_django_cursors)()
        rest = b"".join([chunk async for chunk in chunks])
        return first + rest, built_after_first, cursors

    body, built_after_first, cursors = async_to_sync(export)()
    assert cursors and 0 < built_after_first <= CSV_CHUNK_SIZE
    lines = body.decode().splitlines()
    assert len(lines) == 2501 and lines[0] == ",".join(HEADER)
    assert open_django_cursors() == []


@pytest.mark.django_db(transaction=True)
def test_the_real_asgi_server_streams_the_export(asgi_server):
    """Through daphne, as `make run` serves it (a request in its own thread-sensitive
    context, a cursor held across transactions in autocommit): every row arrives."""
    editor, integrator = UserFactory(editor=True), UserFactory()
    many_decisions(3000, reviewer=editor, owner=integrator)
    http = HTTPConnection("127.0.0.1", asgi_server.port, timeout=30)
    http.request(
        "GET", "/api/approvals?format=csv", headers={"Authorization": f"Token {token_for(editor)}"}
    )
    response = http.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type").startswith("text/csv")
    assert response.getheader("Transfer-Encoding") == "chunked"  # no length: streamed
    lines = response.read().decode().splitlines()
    http.close()
    assert len(lines) == 3001 and lines[0] == ",".join(HEADER)


# --- GET /api/tasks/{id}/history -----------------------------------------------------------


@pytest.fixture
def published_task(integrator, editor):
    """Created through the service by `integrator`, drafted by the pipeline, approved
    (published at once) by `editor`, and its post edited afterwards."""
    task = task_create(user=integrator, topic="Composting in small gardens", target_length=300)
    assert run_pipeline(task.pk) == "done"
    approval_decide(task_id=task.pk, reviewer=editor, approved=True, feedback="Good")
    post = Post.objects.get(task=task)
    post.title = "Composting in small gardens, revised"
    post_edit(post=post, user=editor, reason="fixed the title")
    return task


def history(client, task) -> dict:
    response = client.get(f"/api/tasks/{task.pk}/history")
    assert response.status_code == 200, response.content
    return response.json()


def test_the_owner_sees_the_whole_timeline_oldest_first(
    integrator_client, integrator, editor, published_task
):
    body = history(integrator_client, published_task)
    assert body["task_id"] == str(published_task.pk)
    events = body["events"]
    instants = [datetime.fromisoformat(event["at"]) for event in events]
    assert instants == sorted(instants)

    statuses = [event for event in events if event["kind"] == "status"]
    assert statuses[0] == {**statuses[0], "what": "+", "status": "pending",
                           "who": integrator.username, "why": "created"}  # fmt: skip
    whys = [event["why"] for event in statuses]
    assert whys.index("created") < whys.index("pipeline started")
    assert whys.index("pipeline started") < whys.index("stage research succeeded")
    assert whys.index("stage research succeeded") < whys.index("stage draft started")
    assert whys.index("stage seo succeeded") < whys.index("pipeline finished")
    finished = statuses[whys.index("pipeline finished")]
    assert finished["status"] == "awaiting_approval" and finished["stage"] == "done"
    assert statuses[-1]["status"] == "published" and statuses[-1]["who"] == editor.username
    assert statuses[-1]["why"] == f"approved by {editor.username}"

    runs = [event for event in events if event["kind"] == "stage_run"]
    assert [run["stage"] for run in runs] == ["research", "draft", "review", "image", "seo"]
    assert all(run["status"] == "succeeded" and run["attempt"] == 1 for run in runs)
    assert all(run["finished_at"] >= run["at"] for run in runs)
    assert {type(run["cost"]) for run in runs} == {str}

    (decision,) = [event for event in events if event["kind"] == "decision"]
    stored = ApprovalDecision.objects.get(task=published_task)
    assert decision == {**decision, "decision": "approved", "reviewer": editor.username,
                        "feedback": "Good", "content_hash": stored.content_hash,
                        "claimed_by": None, "generation": 1}  # fmt: skip
    assert decision["at"] > finished["at"]

    versions = [event for event in events if event["kind"] == "post_version"]
    assert [(v["what"], v["why"]) for v in versions] == [
        ("+", "published from approved draft"),
        ("~", "fixed the title"),
    ]
    assert versions[1]["title"] == "Composting in small gardens, revised"
    assert versions[1]["who"] == editor.username
    assert events[-1] == versions[-1]


def test_status_changes_made_by_the_pipeline_are_attributed_to_system(
    integrator_client, published_task
):
    events = history(integrator_client, published_task)["events"]
    by_reason = {event["why"]: event for event in events if event["kind"] == "status"}
    assert by_reason["pipeline started"]["who"] == "system"
    assert by_reason["pipeline started"]["status"] == "in_progress"
    assert by_reason["pipeline finished"]["who"] == "system"


def test_an_editor_sees_anyones_timeline(editor_client, published_task):
    assert len(history(editor_client, published_task)["events"]) > 10


def test_another_integrator_gets_404_for_the_timeline(published_task):
    stranger = client_for(UserFactory())
    response = stranger.get(f"/api/tasks/{published_task.pk}/history")
    assert response.status_code == 404
    assert response.json() == {"detail": "Task not found."}


def test_the_timeline_of_an_unknown_task_is_404_and_anonymous_users_get_401(
    editor_client, anon_client, published_task
):
    import uuid

    assert editor_client.get(f"/api/tasks/{uuid.uuid4()}/history").status_code == 404
    assert anon_client.get(f"/api/tasks/{published_task.pk}/history").status_code == 401


def test_a_scheduled_publication_and_its_withdrawal_show_in_the_trail(
    integrator_client, integrator, editor
):
    task = drafted(integrator)
    publish_at = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    approval_decide(task_id=task.pk, reviewer=editor, approved=True, publish_at=publish_at)
    post = Post.objects.get(task=task)
    post.title = "A title nobody approved"
    assert post_edit(post=post, user=editor, reason="retitled") is None  # withdrawn

    events = history(integrator_client, task)["events"]
    (decision,) = [event for event in events if event["kind"] == "decision"]
    assert decision["publish_at"] == publish_at.isoformat().replace("+00:00", "Z")
    versions = [event for event in events if event["kind"] == "post_version"]
    assert [v["what"] for v in versions] == ["+", "-"]
    assert versions[0]["published_at"] == decision["publish_at"]
    assert versions[1]["why"].startswith("withdrawn")
    statuses = [event["status"] for event in events if event["kind"] == "status"]
    assert statuses[-2:] == ["approved", "awaiting_approval"]


def test_the_timeline_takes_a_few_queries_whatever_its_length(
    integrator_client, published_task, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        history(integrator_client, published_task)


def test_the_schema_documents_both_endpoints(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    approvals = schema["paths"]["/api/approvals/"]["get"]
    assert {"200", "400", "401", "403"} <= set(approvals["responses"])
    assert set(approvals["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    names = {p["name"] for p in approvals["parameters"]}
    assert {"task", "reviewer", "decision", "since", "until", "format", "limit"} <= names
    timeline = schema["paths"]["/api/tasks/{id}/history/"]["get"]
    assert {"200", "401", "404"} <= set(timeline["responses"])
    kinds = schema["components"]["schemas"]["TimelineEvent"]["discriminator"]["mapping"]
    assert set(kinds) == {"status", "stage_run", "decision", "plan_decision", "post_version"}
