"""Who may do what, everywhere: each API endpoint (every route and method of the URL
conf has a row, or `test_every_api_route_and_method_has_a_row` fails), the admin's
pages (every registered model's list, and the desk, trail, history and revert pages),
the public pages that could show a draft, and the three WebSocket paths; for six
people: anonymous, integrator A (who owns every task and post here), integrator B, an
editor, staff who are not editors, and a publisher (an integrator in the Publishers
group, who owns nothing here either).

What a cell holds: the status code; "login" for the admin's redirect to its login
page; a WebSocket's close code or "accept"; followed by "moved" when the request
changed the thing it names, or "shown" when the answer shows it.

The rules the rows hold the code to:
- Nobody reads or moves another integrator's task: the API answers 404 (a stranger
  cannot even learn that the id exists), a socket closes with 4403, bulk actions
  report the task not found, and a draft's cover is a 404.
- Nobody but editors sees drafts: another's task results, unpublished posts, post
  versions, the audit trail, the review desk. The public site shows no draft to anyone.
- Comments on a draft are the editors' to write and resolve; the task's owner reads
  them (403 to write), anyone else learns nothing of them (404).
- Staff alone is not an editor (the editor role is the Editors group, or superuser):
  staff reach the admin's index (which offers them nothing to open), the API's
  metrics and Prometheus' `/metrics` (and health's error details); nothing else that
  an integrator cannot.
- A publisher is integrator B everywhere but on posts: they change, unpublish and
  publish posts again over the API, as editors do, and read posts in any state; no
  task, draft, version, audit record or admin page more than B.
- A webhook is its owner's alone: nobody else lists it or its secret, or deletes it
  (404), editors and staff included."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.apps import apps
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from rest_framework.test import APIClient

from approvals.models import ApprovalDecision, DraftComment, PlanDecision, Workflow
from approvals.services import approval_decide, comment_add, plan_decide
from contentpipeline.asgi import application
from notifications.models import Notification
from notifications.services import notification_send
from publishing.models import Post
from publishing.selectors import post_versions
from publishing.services import post_unpublish, post_update
from tasks.models import ContentTask, StyleGuide, Webhook
from tasks.routing import websocket_urlpatterns
from tasks.runner import run_pipeline
from tasks.selectors import task_result
from tasks.services.style import style_guide_update
from tasks.services.webhooks import webhook_create

from .conftest import client_for
from .factories import UserFactory, token_for
from .tasks.factories import ContentTaskFactory

# The writing is not what these tests are about: QuickWriter writes (tests/fakes.py).
pytestmark = pytest.mark.usefixtures("quick_writer")

ROLES = ("anonymous", "integrator_a", "integrator_b", "editor", "staff")
# The sixth person, whose cell is integrator B's unless a row says otherwise.
PUBLISHER = "publisher"
AS_B = "as integrator_b"
PASSWORD = "a-long-test-password"


class World:
    """The five people, and A's tasks and posts, each made when a row first needs it."""

    def __init__(self) -> None:
        self.people = {
            "anonymous": None,
            "integrator_a": UserFactory(),
            "integrator_b": UserFactory(),
            "editor": UserFactory(editor=True),
            "staff": UserFactory(is_staff=True),
            PUBLISHER: UserFactory(publisher=True),
        }
        self.a = self.people["integrator_a"]
        self.editor = self.people["editor"]

    def webhook_of_a(self) -> Webhook:
        # A public address written as an IP: accepted without a name lookup.
        return webhook_create(user=self.a, url=f"https://93.184.215.14/{uuid.uuid4().hex}")

    def task_of_a(self, **fields) -> ContentTask:
        return ContentTaskFactory(created_by=self.a, **fields)

    def drafted_of_a(self, **fields) -> ContentTask:
        """A's task through the real (offline) pipeline: a draft awaiting approval."""
        task = self.task_of_a(**fields)
        assert run_pipeline(task.pk) == "done"
        task.refresh_from_db()
        return task

    def planned_of_a(self, **fields) -> ContentTask:
        """A's task asking for its plan to be approved, run to awaiting_plan."""
        task = self.task_of_a(review_plan=True, **fields)
        assert run_pipeline(task.pk) == "stopped"
        return task

    @cached_property
    def plan_decision(self) -> PlanDecision:
        task = self.planned_of_a(topic="Integrator A plans a guide to bat boxes")
        record, _ = plan_decide(task_id=task.pk, reviewer=self.editor, approved=True)
        return record

    @cached_property
    def task(self) -> ContentTask:
        return self.task_of_a(topic="A pending task of integrator A")

    @cached_property
    def drafted(self) -> ContentTask:
        return self.drafted_of_a(topic="Integrator A drafts a guide to rain gardens")

    @cached_property
    def draft_title(self) -> str:
        return task_result(self.drafted)["title"]

    def comment_on_draft(self, body: str = "A comment on A's draft") -> DraftComment:
        """An editor's comment on the title of A's draft (a passage of its text)."""
        return comment_add(task_id=self.drafted.pk, author=self.editor,
                           quote=self.draft_title, body=body)  # fmt: skip

    @cached_property
    def comment(self) -> DraftComment:
        return self.comment_on_draft("Editors only say this of the draft")

    @cached_property
    def post(self) -> Post:
        """Published, with two versions: as approved, then edited."""
        task = self.drafted_of_a(topic="Published wisdom about hedgehog houses",
                                 category="Wildlife")  # fmt: skip
        _, post = approval_decide(task_id=task.pk, reviewer=self.editor, approved=True)
        post.title = "Hedgehog houses, edited after publication"
        post_update(post=post, user=self.editor, reason="edited")
        return post

    @cached_property
    def hidden(self) -> Post:
        """Published, then taken off the site: a draft again for everyone but editors."""
        return self.hidden_of_a()

    def live_of_a(self, **fields) -> Post:
        task = self.drafted_of_a(topic="Withdrawn secrets of quokka burrows",
                                 category="Secret Orchard", **fields)  # fmt: skip
        _, post = approval_decide(task_id=task.pk, reviewer=self.editor, approved=True)
        return post

    def hidden_of_a(self) -> Post:
        return post_unpublish(post=self.live_of_a(), user=self.editor)

    @cached_property
    def first_version(self) -> int:
        return post_versions(self.post).order_by("history_id").first().history_id

    @cached_property
    def style_guide(self) -> StyleGuide:
        return style_guide_update(user=self.editor, banned_phrases="synergy")

    def notification_of(self, user) -> Notification:
        (made,) = notification_send(
            recipients=[user], kind="decision", task=None, url="http://localhost:8000/x",
            title=f"For {user.username} alone: {uuid.uuid4().hex[:8]}",
        )  # fmt: skip
        return made

    @cached_property
    def decision(self) -> ApprovalDecision:
        return ApprovalDecision.objects.get(task_id=self.post.task_id)


@dataclass(frozen=True)
class Row:
    """One endpoint (or one question about it), and what each role gets: `expect`
    follows ROLES. `make` names what the path and body refer to; it is called for each
    role, so a row that changes things makes a fresh one each time."""

    name: str
    method: str
    path: str
    expect: tuple
    make: Callable[[World], dict] = field(default=lambda world: {})
    body: Callable[[dict], dict] | None = None
    # Text whose presence in the answer means it shows the thing ("shown").
    shown: Callable[[dict], str] | None = None
    # A reading of the thing that changes when the request moves it ("moved").
    effect: Callable[[dict], object] | None = None
    observe: Callable | None = None
    # The publisher's cell: AS_B unless posts are what the row is about.
    publisher: object = AS_B

    def __str__(self) -> str:
        return self.name


def health_report(response) -> object:
    checks = response.json()
    if set(checks) != {"database", "cache", "broker", "workers"}:
        return checks
    all_ok = all(value == "ok" for value in checks.values())
    return "reports" if response.status_code == (200 if all_ok else 503) else response.status_code


def observed(row: Row, response, ctx: dict, before) -> object:
    if row.observe is not None:
        return row.observe(response)
    status = response.status_code
    if status == 302 and "/admin/login/" in response.get("Location", ""):
        return "login"
    notes = []
    if row.effect is not None and row.effect(ctx) != before:
        notes.append("moved")
    if row.shown is not None and row.shown(ctx) in response.content.decode():
        notes.append("shown")
    return " ".join([str(status), *notes]) if notes else status


def expected(row: Row) -> dict:
    cells = dict(zip(ROLES, row.expect, strict=True))
    cells[PUBLISHER] = cells["integrator_b"] if row.publisher == AS_B else row.publisher
    return cells


def check(row: Row, world: World, client_for_role: Callable) -> None:
    found = {}
    for role in (*ROLES, PUBLISHER):
        ctx = row.make(world)
        before = row.effect(ctx) if row.effect is not None else None
        client = client_for_role(world.people[role])
        kwargs = {}
        if row.body is not None:
            kwargs["data"] = row.body(ctx)
            if isinstance(client, APIClient):
                kwargs["format"] = "json"
        response = getattr(client, row.method.lower())(row.path.format(**ctx), **kwargs)
        found[role] = observed(row, response, ctx, before)
    assert found == expected(row)


def status_of(model, pk_name: str = "task"):
    return lambda ctx: model.objects.get(pk=ctx[pk_name]).status


def fresh(**fields):
    return lambda world: {"task": world.task_of_a(**fields).pk}


def existing(**names: Callable[[World], object]):
    return lambda world: {key: value(world) for key, value in names.items()}


TASK = existing(task=lambda w: w.task.pk)
DRAFTED = existing(task=lambda w: w.drafted.pk, title=lambda w: w.draft_title,
                   topic=lambda w: w.drafted.topic)  # fmt: skip
POST = existing(slug=lambda w: w.post.slug, version=lambda w: w.first_version,
                post_pk=lambda w: w.post.pk)  # fmt: skip
HIDDEN = existing(slug=lambda w: w.hidden.slug, post_pk=lambda w: w.hidden.pk,
                  title=lambda w: w.hidden.title)  # fmt: skip


def fresh_post(make: Callable[[World], Post]) -> Callable[[World], dict]:
    def made(world: World) -> dict:
        post = make(world)
        return {"slug": post.slug, "post_pk": post.pk}

    return made


def versions_of(ctx: dict) -> int:
    return post_versions(Post.objects.get(pk=ctx["post_pk"])).count()


GUIDE = existing(guide=lambda w: w.style_guide.pk)


def guide_edit(ctx: dict) -> dict:
    return {"banned_phrases": f"synergy\nword-{uuid.uuid4().hex[:8]}", "max_sentence_words": "",
            "required_phrases": "", "model_rules": ""}  # fmt: skip


ONLY_EDITORS = (401, 403, 403, 200, 403)
OWNER_AND_EDITORS = (401, 200, 404, 200, 404)
MOVED_BY_OWNER_AND_EDITORS = (401, "200 moved", 404, "200 moved", 404)
EVERYONE = (200, 200, 200, 200, 200)
NOBODY_SEES = EVERYONE
EVERYONE_SEES = ("200 shown",) * 5

API_ROWS = [
    Row(
        "log in",
        "POST",
        "/api/auth/token",
        EVERYONE,
        make=lambda w: {"username": w.a.username},
        body=lambda ctx: {"username": ctx["username"], "password": PASSWORD},
    ),
    Row(
        "list tasks",
        "GET",
        "/api/tasks",
        (401, "200 shown", 200, "200 shown", 200),
        make=TASK,
        shown=lambda ctx: str(ctx["task"]),
    ),
    Row(
        "create a task",
        "POST",
        "/api/tasks",
        (401, 201, 201, 201, 201),
        body=lambda ctx: {"topic": "A task of one's own"},
    ),
    Row(
        "bulk-cancel A's task",
        "POST",
        "/api/tasks/bulk",
        (401, "200 moved", 200, "200 moved", 200),
        make=fresh(),
        body=lambda ctx: {"task_ids": [str(ctx["task"])], "action": "cancel"},
        effect=status_of(ContentTask),
    ),
    Row(
        "read A's draft",
        "GET",
        "/api/tasks/{task}",
        (401, "200 shown", 404, "200 shown", 404),
        make=DRAFTED,
        shown=lambda ctx: ctx["title"],
    ),
    Row(
        "delete A's task",
        "DELETE",
        "/api/tasks/{task}",
        (401, "204 moved", 404, "204 moved", 404),
        make=fresh(),
        effect=lambda ctx: ContentTask.objects.get(pk=ctx["task"]).deleted_at,
    ),
    Row(
        "pause A's task",
        "POST",
        "/api/tasks/{task}/pause",
        MOVED_BY_OWNER_AND_EDITORS,
        make=fresh(status="pending"),
        effect=status_of(ContentTask),
    ),
    Row(
        "resume A's task",
        "POST",
        "/api/tasks/{task}/resume",
        MOVED_BY_OWNER_AND_EDITORS,
        make=fresh(status="paused"),
        effect=status_of(ContentTask),
    ),
    Row(
        "cancel A's task",
        "POST",
        "/api/tasks/{task}/cancel",
        MOVED_BY_OWNER_AND_EDITORS,
        make=fresh(status="pending"),
        effect=status_of(ContentTask),
    ),
    Row(
        "retry A's task",
        "POST",
        "/api/tasks/{task}/retry",
        MOVED_BY_OWNER_AND_EDITORS,
        make=fresh(status="failed"),
        effect=status_of(ContentTask),
    ),
    Row("A's task's history", "GET", "/api/tasks/{task}/history", OWNER_AND_EDITORS, make=DRAFTED),
    Row(
        "decide on A's draft",
        "POST",
        "/api/tasks/{task}/approval",
        (401, 403, 403, "200 moved", 403),
        make=lambda w: {"task": w.drafted_of_a().pk},
        body=lambda ctx: {"approved": False, "feedback": "Needs sources"},
        effect=status_of(ContentTask),
    ),
    Row(
        "comments on A's draft",
        "GET",
        "/api/tasks/{task}/comments",
        (401, "200 shown", 404, "200 shown", 404),
        make=existing(task=lambda w: w.drafted.pk, body=lambda w: w.comment.body),
        shown=lambda ctx: ctx["body"],
    ),
    Row(
        "comment on A's draft",
        "POST",
        "/api/tasks/{task}/comments",
        (401, 403, 404, "201 moved", 404),
        make=DRAFTED,
        body=lambda ctx: {"quote": ctx["title"], "body": "Is this the title?"},
        effect=lambda ctx: DraftComment.objects.filter(task_id=ctx["task"]).count(),
    ),
    Row(
        "resolve a comment on A's draft",
        "POST",
        "/api/tasks/{task}/comments/{comment}/resolve",
        (401, 403, 404, "200 moved", 404),
        make=lambda w: {"task": w.drafted.pk, "comment": w.comment_on_draft().pk},
        effect=lambda ctx: DraftComment.objects.get(pk=ctx["comment"]).resolved,
    ),
    Row(
        "decide on A's plan",
        "POST",
        "/api/tasks/{task}/plan",
        (401, 403, 403, "200 moved", 403),
        make=lambda w: {"task": w.planned_of_a().pk},
        body=lambda ctx: {"approved": False, "feedback": "Narrower, please"},
        effect=status_of(ContentTask),
    ),
    Row(
        "the audit trail",
        "GET",
        "/api/approvals",
        (401, 403, 403, "200 shown", 403),
        make=existing(task=lambda w: w.decision.task_id),
        shown=lambda ctx: str(ctx["task"]),
    ),
    Row("list posts", "GET", "/api/posts", NOBODY_SEES, make=HIDDEN, shown=lambda ctx: ctx["slug"]),
    Row(
        "list unpublished posts",
        "GET",
        "/api/posts?status=unpublished",
        (401, 403, 403, "200 shown", 403),
        publisher="200 shown",
        make=HIDDEN,
        shown=lambda ctx: ctx["slug"],
    ),
    Row(
        "search finds the published post",
        "GET",
        "/api/posts/search?q=hedgehog",
        EVERYONE_SEES,
        make=POST,
        shown=lambda ctx: ctx["slug"],
    ),
    Row(
        "search hides the unpublished post",
        "GET",
        "/api/posts/search?q=quokka",
        NOBODY_SEES,
        make=HIDDEN,
        shown=lambda ctx: ctx["slug"],
    ),
    Row("tags", "GET", "/api/tags", EVERYONE),
    Row(
        "categories count no unpublished post",
        "GET",
        "/api/categories",
        NOBODY_SEES,
        make=HIDDEN,
        shown=lambda ctx: "Secret Orchard",
    ),
    Row(
        "read a published post",
        "GET",
        "/api/posts/{slug}",
        EVERYONE_SEES,
        make=POST,
        shown=lambda ctx: ctx["slug"],
    ),
    Row(
        "read an unpublished post",
        "GET",
        "/api/posts/{slug}",
        (404, 404, 404, 200, 404),
        publisher=200,
        make=HIDDEN,
    ),
    Row("a post's versions", "GET", "/api/posts/{slug}/versions", ONLY_EDITORS, make=POST),
    Row(
        "a version of a post",
        "GET",
        "/api/posts/{slug}/versions/{version}",
        ONLY_EDITORS,
        make=POST,
    ),
    Row(
        "revert a post",
        "POST",
        "/api/posts/{slug}/versions/{version}/revert",
        (401, 403, 403, "200 moved", 403),
        make=POST,
        effect=lambda ctx: post_versions(Post.objects.get(pk=ctx["post_pk"])).count(),
    ),
    Row(
        "change a post",
        "PATCH",
        "/api/posts/{slug}",
        (401, 403, 403, "200 moved", 403),
        publisher="200 moved",
        make=POST,
        body=lambda ctx: {"excerpt": f"Changed {uuid.uuid4().hex}", "change_reason": "matrix"},
        effect=versions_of,
    ),
    Row(
        "unpublish a post",
        "POST",
        "/api/posts/{slug}/unpublish",
        (401, 403, 403, "200 moved", 403),
        publisher="200 moved",
        make=fresh_post(World.live_of_a),
        effect=versions_of,
    ),
    Row(
        "publish a post again",
        "POST",
        "/api/posts/{slug}/publish",
        (401, 403, 403, "200 moved", 403),
        publisher="200 moved",
        make=fresh_post(World.hidden_of_a),
        effect=versions_of,
    ),
    Row(
        "list webhooks",
        "GET",
        "/api/webhooks",
        (401, "200 shown", 200, 200, 200),
        make=lambda w: {"secret": w.webhook_of_a().secret},
        shown=lambda ctx: ctx["secret"],
    ),
    Row(
        "register a webhook",
        "POST",
        "/api/webhooks",
        (401, 201, 201, 201, 201),
        body=lambda ctx: {"url": "https://93.184.215.14/hooks"},
    ),
    Row(
        "delete A's webhook",
        "DELETE",
        "/api/webhooks/{webhook}",
        (401, "204 moved", 404, 404, 404),
        make=lambda w: {"webhook": w.webhook_of_a().pk},
        effect=lambda ctx: Webhook.objects.filter(pk=ctx["webhook"]).exists(),
    ),
    Row(
        "list notifications",
        "GET",
        "/api/notifications",
        (401, "200 shown", 200, 200, 200),
        make=lambda w: {"title": w.notification_of(w.a).title},
        shown=lambda ctx: ctx["title"],
    ),
    Row(
        "mark A's notification read",
        "POST",
        "/api/notifications/{notification}/read",
        (401, "200 moved", 404, 404, 404),
        make=lambda w: {"notification": w.notification_of(w.a).pk},
        effect=lambda ctx: Notification.objects.get(pk=ctx["notification"]).read_at is None,
    ),
    Row("notification settings", "GET", "/api/notifications/settings", (401, 200, 200, 200, 200)),
    *(
        Row(
            f"{method} notification settings",
            method,
            "/api/notifications/settings",
            (401, 200, 200, 200, 200),
            body=lambda ctx: {"email_enabled": False},
        )
        for method in ("PUT", "PATCH")
    ),
    Row("metrics", "GET", "/api/metrics", (401, 403, 403, 403, 200)),
    Row("Prometheus metrics", "GET", "/metrics", (401, 403, 403, 403, 200)),
    # Whether a worker answers the health check's ping depends on what else runs on the
    # broker; whoever asks gets every check, and a 200 exactly when all of them are ok.
    Row("health", "GET", "/api/health", ("reports",) * 5, observe=health_report),
    Row("schema", "GET", "/api/schema/", EVERYONE),
    Row("docs", "GET", "/api/docs/", EVERYONE),
    Row("an unknown path", "GET", "/api/no-such-endpoint", (404,) * 5),
]

# A draft's cover image: the owner's and the editors' (session or token).
COVER_ROW = Row(
    "a draft's cover",
    "GET",
    "{cover}",
    (404, 200, 404, 200, 404),
    make=existing(cover=lambda w: task_result(w.drafted)["image_url"]),
)
SITE_ROWS = [
    COVER_ROW,
    Row("a published post's page", "GET", "/posts/{slug}/", EVERYONE, make=POST),
    Row("an unpublished post's page", "GET", "/posts/{slug}/", (404,) * 5, make=HIDDEN),
    Row(
        "site search",
        "GET",
        "/search/?q=quokka",
        NOBODY_SEES,
        make=HIDDEN,
        shown=lambda ctx: ctx["title"],
    ),
]

LOGIN = ("login", "login", "login")
ADMIN_ROWS = [
    Row(
        "admin index",
        "GET",
        "/admin/",
        (*LOGIN, "200 shown", 200),
        shown=lambda ctx: "/admin/tasks/contenttask/",
    ),
    Row(
        "task list",
        "GET",
        "/admin/tasks/contenttask/",
        (*LOGIN, "200 shown", 403),
        make=DRAFTED,
        shown=lambda ctx: ctx["topic"],
    ),
    Row(
        "a task's page",
        "GET",
        "/admin/tasks/contenttask/{task}/change/",
        (*LOGIN, 200, 403),
        make=DRAFTED,
    ),
    Row(
        "the review desk",
        "GET",
        "/admin/tasks/contenttask/{task}/review/",
        (*LOGIN, "200 shown", 403),
        make=DRAFTED,
        shown=lambda ctx: ctx["title"],
    ),
    Row(
        "comment on the review desk",
        "POST",
        "/admin/tasks/contenttask/{task}/review/",
        (*LOGIN, "302 moved", 403),
        make=DRAFTED,
        body=lambda ctx: {"step": "comment", "quote": ctx["title"], "body": "Title?"},
        effect=lambda ctx: DraftComment.objects.filter(task_id=ctx["task"]).count(),
    ),
    Row(
        "a task's history",
        "GET",
        "/admin/tasks/contenttask/{task}/history/",
        (*LOGIN, 200, 403),
        make=DRAFTED,
    ),
    Row(
        "a task action",
        "POST",
        "/admin/tasks/contenttask/",
        (*LOGIN, "302 moved", 403),
        make=fresh(status="pending"),
        body=lambda ctx: {"action": "cancel_selected", "_selected_action": [str(ctx["task"])]},
        effect=status_of(ContentTask),
    ),
    Row(
        "the audit trail",
        "GET",
        "/admin/approvals/approvaldecision/",
        (*LOGIN, "200 shown", 403),
        make=existing(topic=lambda w: w.decision.task.topic),
        shown=lambda ctx: ctx["topic"],
    ),
    Row(
        "a decision",
        "GET",
        "/admin/approvals/approvaldecision/{decision}/change/",
        (*LOGIN, 200, 403),
        make=existing(decision=lambda w: w.decision.pk),
    ),
    Row(
        "the plan decisions",
        "GET",
        "/admin/approvals/plandecision/",
        (*LOGIN, "200 shown", 403),
        make=existing(topic=lambda w: w.plan_decision.task.topic),
        shown=lambda ctx: ctx["topic"],
    ),
    Row(
        "a plan decision",
        "GET",
        "/admin/approvals/plandecision/{decision}/change/",
        (*LOGIN, 200, 403),
        make=existing(decision=lambda w: w.plan_decision.pk),
    ),
    Row(
        "post list",
        "GET",
        "/admin/publishing/post/",
        (*LOGIN, "200 shown", 403),
        make=HIDDEN,
        shown=lambda ctx: ctx["title"],
    ),
    Row(
        "an unpublished post",
        "GET",
        "/admin/publishing/post/{post_pk}/change/",
        (*LOGIN, 200, 403),
        make=HIDDEN,
    ),
    Row(
        "a post's history",
        "GET",
        "/admin/publishing/post/{post_pk}/history/",
        (*LOGIN, 200, 403),
        make=POST,
    ),
    Row(
        "a post's version",
        "GET",
        "/admin/publishing/post/{post_pk}/history/{version}/",
        (*LOGIN, 200, 403),
        make=POST,
    ),
    Row(
        "revert a post",
        "POST",
        "/admin/publishing/post/{post_pk}/history/{version}/",
        (*LOGIN, "302 moved", 403),
        make=POST,
        body=lambda ctx: {},
        effect=lambda ctx: post_versions(Post.objects.get(pk=ctx["post_pk"])).count(),
    ),
    Row("the style guide", "GET", "/admin/tasks/styleguide/", (*LOGIN, 302, 403)),
    Row(
        "the style guide's page",
        "GET",
        "/admin/tasks/styleguide/{guide}/change/",
        (*LOGIN, 200, 403),
        make=GUIDE,
    ),  # fmt: skip
    Row(
        "edit the style guide",
        "POST",
        "/admin/tasks/styleguide/{guide}/change/",
        (*LOGIN, "302 moved", 403),
        make=GUIDE,
        body=guide_edit,
        effect=lambda ctx: StyleGuide.objects.get(pk=ctx["guide"]).version,
    ),  # fmt: skip
    Row(
        "the style guide's versions",
        "GET",
        "/admin/tasks/styleguide/{guide}/history/",
        (*LOGIN, 200, 403),
        make=GUIDE,
    ),  # fmt: skip
    Row(
        "delete the style guide",
        "POST",
        "/admin/tasks/styleguide/{guide}/delete/",
        (*LOGIN, 403, 403),
        make=GUIDE,
        body=lambda ctx: {"post": "yes"},
    ),  # fmt: skip
    Row("approval workflows", "GET", "/admin/approvals/workflow/", (*LOGIN, 200, 403)),
    Row(
        "an approval workflow",
        "GET",
        "/admin/approvals/workflow/{workflow}/change/",
        (*LOGIN, 200, 403),
        make=existing(workflow=lambda w: Workflow.objects.get_or_create(name="Legal")[0].pk),
    ),
    Row(
        "the inbox",
        "GET",
        "/admin/notifications/notification/",
        (*LOGIN, "200 shown", 200),
        make=lambda w: {"title": w.notification_of(w.editor).title},
        shown=lambda ctx: ctx["title"],
    ),
    Row("webhooks", "GET", "/admin/tasks/webhook/", (*LOGIN, 403, 403)),
    Row("webhook deliveries", "GET", "/admin/tasks/webhookdelivery/", (*LOGIN, 403, 403)),
    Row("users", "GET", "/admin/auth/user/", (*LOGIN, 403, 403)),
    Row("groups", "GET", "/admin/auth/group/", (*LOGIN, 403, 403)),
    Row("API tokens", "GET", "/admin/authtoken/tokenproxy/", (*LOGIN, 403, 403)),
    Row("login attempts", "GET", "/admin/axes/accessattempt/", (*LOGIN, 403, 403)),
    Row("logins", "GET", "/admin/axes/accesslog/", (*LOGIN, 403, 403)),
    Row("login failures", "GET", "/admin/axes/accessfailurelog/", (*LOGIN, 403, 403)),
]

SOCKET_ROWS = [
    Row(
        "follow A's task",
        "WS",
        "/ws/tasks/{task}/",
        (4401, "accept", 4403, "accept", 4403),
        make=TASK,
    ),
    Row(
        "follow A's image stage",
        "WS",
        "/ws/image-generation/{task}/",
        (4401, "accept", 4403, "accept", 4403),
        make=TASK,
    ),
    Row(
        "the dashboard",
        "WS",
        "/ws/tasks/",
        (4401, "accept shown", "accept", "accept shown", "accept"),
        make=TASK,
        shown=lambda ctx: str(ctx["task"]),
    ),
]


def session_client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def world(db) -> World:
    return World()


@pytest.mark.parametrize("row", API_ROWS, ids=str)
def test_the_api_answers_each_role_as_the_matrix_says(world, row):
    check(row, world, client_for)


@pytest.mark.parametrize("row", SITE_ROWS, ids=str)
def test_the_public_site_shows_no_draft_to_anyone(world, row):
    check(row, world, session_client)


def test_a_drafts_cover_answers_a_token_as_it_answers_a_session(world):
    check(COVER_ROW, world, client_for)


@pytest.mark.parametrize("row", ADMIN_ROWS, ids=str)
def test_the_admin_answers_each_role_as_the_matrix_says(world, row):
    check(row, world, session_client)


async def socket_outcome(path: str, token: str | None, shown: str | None) -> str | int:
    """The close code, or "accept" (and " shown" when the state it sends names `shown`)."""
    query = f"?token={token}" if token else ""
    communicator = WebsocketCommunicator(application, path + query,
                                         headers=[(b"origin", b"http://localhost"),
                                                  (b"host", b"localhost")])  # fmt: skip
    connected, _ = await communicator.connect()
    assert connected
    try:
        # Everything the socket tells this user, up to the answer to a ping: a refused
        # socket's close comes first.
        await communicator.send_json_to({"type": "get_progress"})
        await communicator.send_json_to({"type": "ping"})
        told = []
        while True:
            message = await communicator.receive_output(timeout=5)
            if message["type"] == "websocket.close":
                return message["code"]
            told.append(message["text"])
            if '"pong"' in message["text"]:
                break
        return "accept shown" if shown and any(shown in text for text in told) else "accept"
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_refused_socket_acts_on_nothing_the_client_sends_before_closing():
    """A client may send frames until it answers the close: an anonymous one asking
    the dashboard for its state made the consumer read tasks as nobody, and fail."""
    communicator = WebsocketCommunicator(application, "/ws/tasks/",
                                         headers=[(b"origin", b"http://localhost"),
                                                  (b"host", b"localhost")])  # fmt: skip
    assert (await communicator.connect())[0]
    await communicator.send_json_to({"type": "get_progress"})
    await communicator.send_json_to({"type": "ping"})
    closed = await communicator.receive_output(timeout=5)
    assert (closed["type"], closed["code"]) == ("websocket.close", 4401)
    # Disconnecting waits for the consumer to finish (it re-raises what failed in it),
    # by when any answer to the frames would have been sent.
    await communicator.disconnect()
    assert communicator.output_queue.empty()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("row", SOCKET_ROWS, ids=str)
async def test_each_websocket_path_answers_each_role_as_the_matrix_says(row):
    world = await database_sync_to_async(World)()
    ctx = await database_sync_to_async(row.make)(world)
    found = {}
    for role in (*ROLES, PUBLISHER):
        user = world.people[role]
        token = await database_sync_to_async(token_for)(user) if user else None
        shown = row.shown(ctx) if row.shown else None
        found[role] = await socket_outcome(row.path.format(**ctx), token, shown)
    assert found == expected(row)


# --- Every route has a row -----------------------------------------------------------------

PLACEHOLDERS = {"task": uuid.UUID(int=1), "slug": "a-post", "version": 1, "post_pk": 1,
                "decision": 1, "cover": "/media/covers/x.png",
                "webhook": uuid.UUID(int=2), "comment": 1, "notification": 1}  # fmt: skip


def _api_routes():
    """(route name, method) for every view under /api/ in the URL conf."""

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern

    for route, pattern in walk(get_resolver().url_patterns):
        if not route.startswith("api/"):
            continue
        callback = pattern.callback
        actions = getattr(callback, "actions", None)
        view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        if actions:
            methods = list(actions)
        elif view is not None:
            methods = [m for m in view.http_method_names if hasattr(view, m)]
        else:
            methods = ["get"]  # a plain function (the JSON 404 for any other path)
        for method in methods:
            # HEAD and OPTIONS answer as GET does and say what the view allows.
            if method not in ("head", "options"):
                yield pattern.name or callback.__name__, method.upper()


def test_every_api_route_and_method_has_a_row():
    covered = set()
    for row in API_ROWS:
        match = resolve(row.path.format(**PLACEHOLDERS).split("?")[0])
        covered.add((match.url_name or match.func.__name__, row.method))
    assert set(_api_routes()) - covered == set()


def test_every_admin_list_and_websocket_path_has_a_row():
    lists = {
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in apps.get_models()
        if admin.site.is_registered(model)
    }
    assert lists - {row.path for row in ADMIN_ROWS} == set()
    for pattern in websocket_urlpatterns:
        assert any(
            pattern.resolve(row.path.format(**PLACEHOLDERS).lstrip("/")) for row in SOCKET_ROWS
        ), pattern
