"""Posts editors and publishers manage over the API: PATCH (a new version with who and
why, through the admin's own action), rescheduling, unpublish and publish again, the
expiry date, and what they refuse (approvals/api/posts.py)."""

import json
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from approvals.services import approval_decide
from contentpipeline.roles import PUBLISHERS_GROUP
from publishing.models import Post
from tasks.models import ContentTask
from tasks.runner import run_pipeline
from tasks.selectors import task_result

from ..conftest import client_for
from ..factories import UserFactory
from ..tasks.factories import ContentTaskFactory

# The writing is not what these tests are about: QuickWriter writes (tests/fakes.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_writer")]


def drafted(owner, **fields) -> ContentTask:
    task = ContentTaskFactory(created_by=owner, **fields)
    assert run_pipeline(task.pk) == "done"
    return task


@pytest.fixture
def published(editor, integrator) -> Post:
    _, post = approval_decide(task_id=drafted(integrator).pk, reviewer=editor, approved=True)
    return post


@pytest.fixture
def scheduled(editor, integrator) -> Post:
    later = timezone.now() + timedelta(days=1)
    _, post = approval_decide(
        task_id=drafted(integrator).pk, reviewer=editor, approved=True, publish_at=later
    )
    return post


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, list]] = []

    @property
    def tags(self) -> list[str]:
        return [tag for tag, _ in self.seen]

    def handle_starttag(self, tag, attrs) -> None:
        self.seen.append((tag, attrs))


def url(post_or_slug, action: str = "") -> str:
    slug = getattr(post_or_slug, "slug", post_or_slug)
    return f"/api/posts/{slug}/{action}" if action else f"/api/posts/{slug}"


def task_status(post: Post) -> str:
    return ContentTask.objects.get(pk=post.task_id).status


def newest_version(client, post: Post) -> dict:
    response = client.get(url(post, "versions"))
    assert response.status_code == 200
    return response.json()["results"][0]


def in_days(days: float) -> str:
    return (timezone.now() + timedelta(days=days)).isoformat()


# --- PATCH ---------------------------------------------------------------------------------


def test_an_editors_patch_of_a_live_post_is_a_new_version_with_who_and_why(
    editor, editor_client, published
):
    response = editor_client.patch(
        url(published),
        {"title": "Rain gardens, revised", "body_markdown": "A **new** body.",
         "tags": ["Soil", "soil ", "Water"], "category": "Water",
         "change_reason": "a reader's correction"},
        format="json",
    )  # fmt: skip

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["title"] == "Rain gardens, revised"
    assert body["body_html"] == "<p>A <strong>new</strong> body.</p>"
    assert body["tags"] == ["soil", "water"] and body["category"] == "Water"
    version = newest_version(editor_client, published)
    assert version["changed_by"] == editor.username
    assert version["change_reason"] == "a reader's correction"
    assert version["title"] == "Rain gardens, revised"
    assert task_status(published) == "published"
    assert client_for().get(url(published)).json()["title"] == "Rain gardens, revised"


def test_a_patch_without_a_reason_says_it_was_edited_over_the_api(editor_client, published):
    response = editor_client.patch(url(published), {"excerpt": "Shorter."}, format="json")
    assert response.status_code == 200
    assert newest_version(editor_client, published)["change_reason"] == "edited over the API"


def test_the_publishers_group_is_made_by_a_migration():
    assert Group.objects.filter(name=PUBLISHERS_GROUP).exists()


def test_a_publisher_edits_unpublishes_and_publishes_a_post_again(
    publisher, publisher_client, editor_client, published
):
    edited = publisher_client.patch(url(published), {"seo_title": "Rain gardens"}, format="json")
    assert edited.status_code == 200, edited.content
    assert newest_version(editor_client, published)["changed_by"] == publisher.username

    down = publisher_client.post(url(published, "unpublish"), {"change_reason": "legal hold"},
                                 format="json")  # fmt: skip
    assert down.status_code == 200, down.content
    assert task_status(published) == "approved"
    assert client_for().get(url(published)).status_code == 404
    assert newest_version(editor_client, published)["change_reason"] == "legal hold"
    # A publisher finds what they took down, as editors do.
    listed = publisher_client.get("/api/posts?status=unpublished").json()["results"]
    assert [post["slug"] for post in listed] == [published.slug]
    assert publisher_client.get(url(published)).status_code == 200

    up = publisher_client.post(url(published, "publish"))
    assert up.status_code == 200, up.content
    assert task_status(published) == "published"
    assert client_for().get(url(published)).status_code == 200
    version = newest_version(editor_client, published)
    assert version["change_reason"] == f"published again by {publisher.username}"
    assert version["changed_by"] == publisher.username


def test_unpublishing_or_publishing_twice_answers_409(editor_client, published, scheduled):
    assert editor_client.post(url(published, "publish")).status_code == 409
    assert editor_client.post(url(scheduled, "publish")).status_code == 409
    assert editor_client.post(url(published, "unpublish")).status_code == 200
    again = editor_client.post(url(published, "unpublish"))
    assert again.status_code == 409 and again.json()["status"] == "unpublished"
    assert published.history.count() == 2


@pytest.mark.parametrize("who", ["integrator", "anonymous", "staff"])
def test_nobody_else_may_change_a_post(who, integrator, published):
    # The post's own integrator neither: what they asked for was approved as it stands.
    user = {"integrator": integrator, "anonymous": None,
            "staff": UserFactory(is_staff=True)}[who]  # fmt: skip
    client = client_for(user)
    expected = 401 if user is None else 403
    answers = [
        client.patch(url(published), {"title": "Mine now"}, format="json").status_code,
        client.post(url(published, "unpublish")).status_code,
        client.post(url(published, "publish")).status_code,
    ]
    assert answers == [expected] * 3
    assert published.history.count() == 1 and task_status(published) == "published"


def test_an_unknown_slug_answers_404(editor_client, publisher_client):
    for client in (editor_client, publisher_client):
        assert client.patch(url("no-such-post"), {"title": "X"}, format="json").status_code == 404
        assert client.post(url("no-such-post", "unpublish")).status_code == 404
        assert client.post(url("no-such-post", "publish")).status_code == 404


# --- Scheduled posts -----------------------------------------------------------------------


def test_changing_a_scheduled_posts_text_sends_it_back_to_approval(
    editor, editor_client, scheduled
):
    response = editor_client.patch(
        url(scheduled), {"title": "A title nobody approved yet"}, format="json"
    )

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "awaiting_approval" and body["task_id"] == str(scheduled.task_id)
    task = ContentTask.objects.get(pk=scheduled.task_id)
    assert task.status == "awaiting_approval"
    assert task_result(task)["title"] == "A title nobody approved yet"
    assert not Post.objects.filter(pk=scheduled.pk).exists()
    withdrawn = scheduled.history.order_by("-history_id").first()
    assert withdrawn.history_type == "-" and withdrawn.history_user == editor


def test_a_scheduled_post_is_rescheduled_and_stays_approved(editor_client, scheduled):
    later = timezone.now() + timedelta(days=3)
    response = editor_client.patch(
        url(scheduled), {"publish_at": later.isoformat(), "change_reason": "launch moved"},
        format="json",
    )  # fmt: skip

    assert response.status_code == 200, response.content
    scheduled.refresh_from_db()
    assert scheduled.published_at == later
    assert task_status(scheduled) == "approved"
    assert newest_version(editor_client, scheduled)["change_reason"] == "launch moved"
    assert client_for().get(url(scheduled)).status_code == 404  # not live yet


def test_only_a_scheduled_post_is_rescheduled_and_only_to_a_time_to_come(
    editor_client, published, scheduled
):
    live = editor_client.patch(url(published), {"publish_at": in_days(2)}, format="json")
    assert live.status_code == 409 and live.json()["status"] == "published"
    past = editor_client.patch(url(scheduled), {"publish_at": in_days(-1)}, format="json")
    assert past.status_code == 400 and "publish_at" in past.json()
    editor_client.post(url(published, "unpublish"))
    off = editor_client.patch(url(published), {"publish_at": in_days(2)}, format="json")
    assert off.status_code == 409 and off.json()["status"] == "unpublished"
    assert Post.objects.get(pk=published.pk).published_at < timezone.now()


# --- Expiry date ---------------------------------------------------------------------------


def test_the_expiry_date_is_set_shown_and_cleared(editor_client, published):
    when = timezone.now() + timedelta(days=30)
    response = editor_client.patch(url(published), {"expire_at": when.isoformat()},
                                   format="json")  # fmt: skip
    assert response.status_code == 200 and response.json()["expire_at"] is not None
    shown = client_for().get(url(published)).json()["expire_at"]
    assert shown is not None and abs(Post.objects.get(pk=published.pk).expire_at - when) < (
        timedelta(seconds=1)
    )
    version = editor_client.get(url(published, f"versions/{published.history.latest().pk}"))
    assert [change["field"] for change in version.json()["diff"]] == ["expire_at"]

    cleared = editor_client.patch(url(published), {"expire_at": None}, format="json")
    assert cleared.status_code == 200 and cleared.json()["expire_at"] is None


def test_an_expiry_date_in_the_past_or_before_publication_is_400(editor_client, scheduled):
    past = editor_client.patch(url(scheduled), {"expire_at": in_days(-1)}, format="json")
    assert past.status_code == 400 and "expire_at" in past.json()
    early = editor_client.patch(url(scheduled), {"expire_at": in_days(0.5)}, format="json")
    assert early.status_code == 400 and "expire_at" in early.json()
    # Rescheduling past the expiry date is as wrong as setting it before.
    both = editor_client.patch(url(scheduled), {"publish_at": in_days(3), "expire_at": in_days(2)},
                               format="json")  # fmt: skip
    assert both.status_code == 400 and "expire_at" in both.json()
    assert Post.objects.get(pk=scheduled.pk).expire_at is None


# --- What a PATCH refuses ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"change_reason": "nothing else"},
        {"slug": "another-slug"},
        {"title": "Fine", "published_at": "2030-01-01T00:00:00Z"},
        {"title": ""},
        {"title": "x" * 201},
        {"seo_title": "x" * 61},
        {"meta_description": "x" * 161},
        {"body_markdown": "x" * 200_001},
        {"tags": ["x" * 51]},
        {"tags": [f"tag{n}" for n in range(1000)]},
        {"tags": "not a list"},
        {"change_reason": "x" * 101, "title": "Fine"},
        {"title": "A NUL \x00 byte"},
        {"body_markdown": "\x00"},
        {"expire_at": "next tuesday"},
        ["title"],
    ],
    ids=lambda body: json.dumps(body)[:40],
)
def test_a_patch_out_of_bounds_is_400_and_changes_nothing(editor_client, published, body):
    response = editor_client.patch(url(published), body, format="json")
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    assert published.history.count() == 1


def test_a_body_of_ten_megabytes_is_413(editor_client, published):
    body = json.dumps({"body_markdown": "x" * (10 * 1024 * 1024)})
    response = editor_client.patch(url(published), body, content_type="application/json")
    assert response.status_code == 413 and "detail" in response.json()
    assert published.history.count() == 1


def test_a_script_in_the_body_never_reaches_the_html(editor_client, published):
    body = (
        'Hello <script>alert("x")</script> <img src=x onerror="alert(1)"> [a](javascript:alert(1))'
    )
    response = editor_client.patch(url(published), {"body_markdown": body}, format="json")
    assert response.status_code == 200
    html = Post.objects.get(pk=published.pk).body_html
    tags = TagCollector()
    tags.feed(html)
    # What a reader's browser would run: no script element, no handler, no script URL
    # (the markup may stay as text, escaped).
    assert "script" not in {tag for tag, _ in tags.seen} and "img" not in tags.tags
    assert not any(name.startswith("on") or "javascript:" in (value or "")
                   for _, attrs in tags.seen for name, value in attrs)  # fmt: skip
    assert tags.tags == ["p", "a"]
    assert response.json()["body_html"] == html


def test_the_schema_documents_every_answer_of_the_post_endpoints(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    detail = paths["/api/posts/{slug}/"]
    assert set(detail) >= {"get", "patch"}
    assert {"200", "202", "400", "401", "403", "404", "409", "413"} <= set(
        detail["patch"]["responses"]
    )
    properties = detail["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert "$ref" in properties
    for action in ("unpublish", "publish"):
        operation = paths[f"/api/posts/{{slug}}/{action}/"]["post"]
        assert {"200", "401", "403", "404", "409"} <= set(operation["responses"])
    get = detail["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    component = client.get("/api/schema/?format=json").json()["components"]["schemas"]
    assert "expire_at" in component[get.rsplit("/", 1)[-1]]["properties"]
