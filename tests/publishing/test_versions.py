"""Versions of posts (API and admin), unpublish and publish again, and the tag and
category counts."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.forms import MultiWidget
from django.test import Client
from django.utils import timezone
from django.utils.text import Truncator

from approvals.services import approval_decide, post_republish, post_unpublish
from contentpipeline.errors import InvalidTransition
from publishing.models import Post
from publishing.services import ApprovalNeeded, post_update, post_withdraw
from tasks.models import ContentTask
from tasks.runner import run_pipeline
from tasks.selectors import task_models_used, task_result

from ..conftest import client_for
from ..factories import UserFactory
from ..tasks.factories import ContentTaskFactory
from .factories import PostFactory

# The writing is not what these tests are about: QuickWriter writes (tests/fakes.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_writer")]


# --- Helpers -------------------------------------------------------------------------------


def drafted(owner) -> ContentTask:
    """A task that went through the real (offline) pipeline, in this process."""
    task = ContentTaskFactory(created_by=owner, category="Urban Gardening")
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    assert task.status == "awaiting_approval"
    return task


@pytest.fixture
def drafted_task(integrator) -> ContentTask:
    return drafted(integrator)


@pytest.fixture
def published(editor, drafted_task) -> Post:
    _, post = approval_decide(task_id=drafted_task.pk, reviewer=editor, approved=True)
    return post


@pytest.fixture
def scheduled(editor, integrator) -> Post:
    """Approved, to go live tomorrow (a task of its own)."""
    later = timezone.now() + timedelta(days=1)
    _, post = approval_decide(
        task_id=drafted(integrator).pk, reviewer=editor, approved=True, publish_at=later
    )
    return post


@pytest.fixture
def admin_client(editor) -> Client:
    client = Client()
    client.force_login(editor)
    return client


@pytest.fixture
def staff_client() -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True))
    return client


def versions_url(post: Post, version_id=None, action: str = "") -> str:
    url = f"/api/posts/{post.slug}/versions"
    if version_id is not None:
        url += f"/{version_id}"
    return f"{url}/{action}" if action else url


def reasons(post: Post) -> list[str]:
    """The post's versions' reasons, oldest first."""
    return list(
        post.history.order_by("history_date", "history_id").values_list(
            "history_change_reason", flat=True
        )
    )


def admin_form_data(response) -> dict:
    """The change form's fields as a browser would post them back unchanged."""
    form = response.context["adminform"].form
    data = {}
    for bound in form:
        value = bound.field.prepare_value(bound.value())
        if isinstance(bound.field.widget, MultiWidget):
            for index, part in enumerate(bound.field.widget.decompress(value)):
                data[f"{bound.html_name}_{index}"] = "" if part is None else str(part)
        else:
            data[bound.html_name] = "" if value is None else value
    return data


def admin_edit(client: Client, post: Post, **changes):
    url = f"/admin/publishing/post/{post.pk}/change/"
    data = {**admin_form_data(client.get(url)), **changes}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return response


# --- Every change is a version ---------------------------------------------------------


def test_every_change_to_a_post_is_a_version_with_who_when_and_why(
    editor, editor_client, admin_client, published
):
    admin_edit(admin_client, published, title="A title the editor chose")
    first = published.history.order_by("history_id").first()
    response = editor_client.post(versions_url(published, first.history_id, "revert"))
    assert response.status_code == 200
    post_unpublish(post=published, user=editor)
    post_republish(post=published, user=editor)

    assert reasons(published) == [
        "published from approved draft",
        "edited in admin",
        f"reverted to version {first.history_id}",
        f"unpublished by {editor}",
        f"published again by {editor}",
    ]
    assert set(published.history.values_list("history_user", flat=True)) == {editor.pk}
    dates = list(published.history.order_by("history_id").values_list("history_date", flat=True))
    assert dates == sorted(dates) and all(date is not None for date in dates)


def test_saving_a_post_without_a_change_writes_no_version(editor, admin_client, published):
    admin_edit(admin_client, published)
    post_update(post=Post.objects.get(pk=published.pk), user=editor, reason="nothing")
    assert reasons(published) == ["published from approved draft"]
    admin_edit(admin_client, published, excerpt="A new excerpt.")
    assert reasons(published) == ["published from approved draft", "edited in admin"]
    assert Post.objects.get(pk=published.pk).excerpt == "A new excerpt."


# --- The versions API ------------------------------------------------------------------


def test_versions_are_listed_newest_first_with_who_why_and_provenance(
    editor, editor_client, admin_client, published, drafted_task
):
    admin_edit(admin_client, published, title="Second title")
    response = editor_client.get(versions_url(published))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    newest, oldest = body["results"]
    assert newest["version_id"] > oldest["version_id"]
    assert newest["title"] == "Second title" and newest["change_reason"] == "edited in admin"
    assert oldest["change_reason"] == "published from approved draft"
    assert newest["changed_by"] == oldest["changed_by"] == editor.username
    assert newest["created_at"] >= oldest["created_at"]
    models = task_models_used(drafted_task)
    assert models  # the offline provider names its models too
    assert oldest["source"] == {
        "task_id": str(drafted_task.pk),
        "generation": drafted_task.generation,
        "models": models,
    }


def test_a_version_shows_its_content_and_its_changes_against_the_one_before(
    editor_client, admin_client, published
):
    old_title, old_body = published.title, published.body_markdown
    new_body = old_body + "\n\nA closing paragraph the editor added."
    admin_edit(admin_client, published, title="Sharper title", body_markdown=new_body)
    first, second = published.history.order_by("history_id")

    body = editor_client.get(versions_url(published, second.history_id)).json()
    assert body["title"] == "Sharper title" and body["body_markdown"] == new_body
    assert body["previous_version_id"] == first.history_id
    assert body["category"] == "Urban Gardening" and body["tags"] == published.tags
    assert body["unpublished_at"] is None and body["published_at"]
    changes = {change["field"]: change for change in body["diff"]}
    assert set(changes) == {"title", "body_markdown", "body_html"}
    assert changes["title"]["before"] == old_title and changes["title"]["after"] == "Sharper title"
    assert changes["title"]["unified_diff"] is None
    unified = changes["body_markdown"]["unified_diff"]
    assert unified.startswith(f"--- version {first.history_id}\n+++ version {second.history_id}")
    assert "\n+A closing paragraph the editor added." in unified
    assert "A closing paragraph" in changes["body_html"]["after"]

    first_body = editor_client.get(versions_url(published, first.history_id)).json()
    assert first_body["previous_version_id"] is None
    added = {change["field"]: change for change in first_body["diff"]}
    assert {change["change"] for change in first_body["diff"]} == {"added"}
    assert added["title"] == {"field": "title", "change": "added", "before": None,
                              "after": old_title, "unified_diff": None}  # fmt: skip
    assert {"excerpt", "body_markdown", "tags", "published_at"} <= set(added)


def test_reverting_restores_the_content_as_a_new_version(
    editor, editor_client, admin_client, published
):
    original_title = published.title
    admin_edit(admin_client, published, title="A worse title", seo_title="Worse")
    first = published.history.order_by("history_id").first()

    response = editor_client.post(versions_url(published, first.history_id, "revert"))
    assert response.status_code == 200
    assert response.json()["title"] == original_title
    assert response.json()["slug"] == published.slug
    post = Post.objects.get(pk=published.pk)
    assert post.title == original_title and post.seo_title == published.seo_title
    newest = post.history.first()
    assert newest.history_change_reason == f"reverted to version {first.history_id}"
    assert newest.history_user == editor and post.history.count() == 3
    diff = editor_client.get(versions_url(post, newest.history_id)).json()["diff"]
    assert {change["field"] for change in diff} == {"title", "seo_title"}


def test_reverting_a_scheduled_posts_text_sends_it_back_to_approval(editor_client, scheduled):
    approved_title = scheduled.title
    first = scheduled.history.first()
    # Reverting to the text as approved changes nothing: the post stays scheduled.
    response = editor_client.post(versions_url(scheduled, first.history_id, "revert"))
    assert response.status_code == 200 and scheduled.history.count() == 1
    # A version of other text, written around the services (through them, any edit of
    # a scheduled post's text goes back to approval at once).
    scheduled.title = "A title nobody approved"
    scheduled.save()
    response = editor_client.post(versions_url(scheduled, first.history_id, "revert"))
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "awaiting_approval" and body["task_id"] == str(scheduled.task_id)
    assert f"version {first.history_id}" in body["detail"]
    assert not Post.objects.filter(pk=scheduled.pk).exists()
    task = ContentTask.objects.get(pk=scheduled.task_id)
    assert task.status == "awaiting_approval"
    assert task_result(task)["title"] == approved_title


def test_the_post_service_alone_refuses_to_change_a_scheduled_posts_approved_text(
    editor, scheduled
):
    # Only the approval workflow may send the text back to approval; called around it,
    # the post's own service saves nothing rather than put unapproved text on its way.
    scheduled.title = "A title nobody approved"
    with pytest.raises(ApprovalNeeded):
        post_update(post=scheduled, user=editor)
    stored = Post.objects.get(pk=scheduled.pk)
    assert stored.title != "A title nobody approved" and stored.history.count() == 1
    assert ContentTask.objects.get(pk=scheduled.task_id).status == "approved"


def test_a_live_post_is_unpublished_never_withdrawn(editor, published):
    with pytest.raises(InvalidTransition, match="unpublished, not withdrawn"):
        post_withdraw(post=published, user=editor, reason="gone")
    assert Post.objects.get(pk=published.pk).is_live and published.history.count() == 1


@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 401), ("integrator", 403), ("staff", 403), ("editor", 200)],
)
def test_only_editors_see_and_revert_versions(who, expected, integrator, editor, published):
    users = {
        "anonymous": None,
        "integrator": integrator,
        "staff": UserFactory(is_staff=True),
        "editor": editor,
    }
    client = client_for(users[who])
    version = published.history.first()
    assert client.get(versions_url(published)).status_code == expected
    assert client.get(versions_url(published, version.history_id)).status_code == expected
    revert = client.post(versions_url(published, version.history_id, "revert"))
    assert revert.status_code == expected
    if expected != 200:
        assert "detail" in revert.json()
    assert published.history.count() == 1


def test_unknown_posts_and_versions_answer_404_and_odd_ids_never_500(
    editor_client, published, scheduled
):
    other = scheduled.history.first()
    assert editor_client.get("/api/posts/no-such-post/versions").status_code == 404
    for version_id in [other.history_id, 999999, 2**31, "999999999999999999"]:
        response = editor_client.get(versions_url(published, version_id))
        assert response.status_code == 404, version_id
        assert response.json()["detail"]
        revert = editor_client.post(versions_url(published, version_id, "revert"))
        assert revert.status_code == 404
    # An id that is no number is no version (404); a NUL byte is refused before routing.
    for odd, status in [("abc", 404), ("-1", 404), ("1.5", 404), ("9" * 30, 404), ("%00", 400)]:
        response = editor_client.get(f"/api/posts/{published.slug}/versions/{odd}")
        assert response.status_code == status, odd
        assert response.json()["detail"]
    assert published.history.count() == 1


def test_editors_see_the_versions_of_scheduled_and_unpublished_posts(
    editor, editor_client, published, scheduled
):
    post_unpublish(post=published, user=editor)
    for post in (published, scheduled):
        body = editor_client.get(versions_url(post)).json()
        assert body["results"][0]["title"] == post.title
    assert editor_client.get(versions_url(published)).json()["count"] == 2


def test_the_schema_documents_the_version_endpoints(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    listing = paths["/api/posts/{slug}/versions/"]["get"]["responses"]
    assert {"200", "401", "403", "404"} <= set(listing)
    detail = paths["/api/posts/{slug}/versions/{version_id}/"]["get"]["responses"]
    assert {"200", "400", "401", "403", "404"} <= set(detail)
    revert = paths["/api/posts/{slug}/versions/{version_id}/revert/"]["post"]["responses"]
    assert {"200", "202", "401", "403", "404", "409"} <= set(revert)
    assert "/api/tags/" in paths and "/api/categories/" in paths


# --- Admin: history with diff and revert, unpublish and publish again ----------------------


def test_the_admin_history_shows_who_why_provenance_and_changes(
    editor, admin_client, published, drafted_task
):
    body = published.body_markdown + "\n\nA new closing line."
    admin_edit(admin_client, published, title="Edited in the admin", body_markdown=body)
    page = admin_client.get(f"/admin/publishing/post/{published.pk}/history/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "edited in admin" in html and "published from approved draft" in html
    assert editor.username in html
    assert f"task {drafted_task.pk}, generation 1, models: " in html
    assert "<strong>title:</strong>" in html and "Edited in the admin" in html
    assert "2 line(s) added, 0 removed" in html


def test_the_admin_version_page_renders_the_diff_against_the_version_before(
    admin_client, published
):
    old_title = published.title
    admin_edit(admin_client, published, title="Title <b>bold</b> & new",
               body_markdown=published.body_markdown + "\n\nOne more line.")  # fmt: skip
    first, second = published.history.order_by("history_id")
    page = admin_client.get(f"/admin/publishing/post/{published.pk}/history/{second.history_id}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f"Changes against version {first.history_id}" in html
    assert '<tr class="field-title">' in html and old_title in html
    assert "Title &lt;b&gt;bold&lt;/b&gt; &amp; new" in html  # escaped, never markup
    assert '<span class="add">+One more line.</span>' in html
    assert f"Revert to version {second.history_id}" in html
    first_page = admin_client.get(
        f"/admin/publishing/post/{published.pk}/history/{first.history_id}/"
    )
    assert "First version: every field added" in first_page.content.decode()


def test_the_admin_revert_goes_through_the_service(editor, admin_client, published):
    original_title = published.title
    admin_edit(admin_client, published, title="Changed in the admin")
    first = published.history.order_by("history_id").first()
    url = f"/admin/publishing/post/{published.pk}/history/{first.history_id}/"
    # simple-history's own form posts fields back; what they say is not what is saved.
    response = admin_client.post(url, {"title": "Whatever the form said", "_revert": "1"})
    assert response.status_code == 302
    post = Post.objects.get(pk=published.pk)
    assert post.title == original_title
    newest = post.history.first()
    assert newest.history_change_reason == f"reverted to version {first.history_id}"
    assert newest.history_user == editor
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert f"Reverted to version {first.history_id}, saved as version" in messages[-1]


def test_a_staff_member_who_is_no_editor_cannot_revert_in_admin(staff_client, published):
    version = published.history.first()
    url = f"/admin/publishing/post/{published.pk}/history/{version.history_id}/"
    assert staff_client.post(url, {"_revert": "1"}).status_code == 403
    assert published.history.count() == 1


def test_unknown_versions_in_admin_are_404(admin_client, published, scheduled):
    other = scheduled.history.first()
    base = f"/admin/publishing/post/{published.pk}/history"
    for version_id in [other.history_id, 99999999, "abc", "9" * 25]:
        assert admin_client.get(f"{base}/{version_id}/").status_code == 404, version_id


def test_the_admin_list_shows_status_and_models(admin_client, published, editor):
    PostFactory(title="Later post", published_at=timezone.now() + timedelta(days=2))
    html = admin_client.get("/admin/publishing/post/").content.decode()
    assert '<td class="field-status">live</td>' in html
    assert '<td class="field-status">scheduled</td>' in html
    assert ", ".join(published.models_used) in html
    unpublished = admin_client.get("/admin/publishing/post/?status=unpublished")
    assert published.title not in unpublished.content.decode()


def test_unpublishing_in_admin_takes_the_post_off_the_site_and_back(
    editor, admin_client, client, published, drafted_task, django_capture_on_commit_callbacks
):
    other = PostFactory(title="Already unpublished", unpublished_at=timezone.now())
    changelist = "/admin/publishing/post/"
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            changelist,
            {"action": "unpublish_selected", "_selected_action": [published.pk, other.pk]},
        )
    assert response.status_code == 302
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert f"{Truncator(published.title).chars(60)}: unpublished." in messages
    assert "Already unpublished: This post is already unpublished." in messages

    assert client.get(f"/posts/{published.slug}/").status_code == 404
    assert published.title not in client.get("/").content.decode()
    assert client.get("/api/posts").json()["count"] == 0
    assert client.get(f"/api/posts/{published.slug}").status_code == 404
    task = ContentTask.objects.get(pk=drafted_task.pk)
    assert task.status == "approved"
    record = task.history.first()
    assert record.status == "approved" and record.history_user == editor
    assert record.history_change_reason == f"post unpublished by {editor}"

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            changelist, {"action": "republish_selected", "_selected_action": [published.pk]}
        )
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert f"{Truncator(published.title).chars(60)}: published again." in messages
    assert client.get(f"/posts/{published.slug}/").status_code == 200
    assert client.get("/api/posts").json()["results"][0]["slug"] == published.slug
    assert ContentTask.objects.get(pk=drafted_task.pk).status == "published"
    assert reasons(published)[-2:] == [f"unpublished by {editor}", f"published again by {editor}"]


def test_a_staff_member_who_is_no_editor_cannot_unpublish(staff_client, published):
    response = staff_client.post(
        "/admin/publishing/post/",
        {"action": "unpublish_selected", "_selected_action": [published.pk]},
    )
    assert response.status_code == 403
    assert Post.objects.get(pk=published.pk).unpublished_at is None


# --- Tags and categories -------------------------------------------------------------------


def _post(title: str, tags: list[str], category: str = "", **kwargs) -> Post:
    return PostFactory(title=title, tags=tags, category=category, **kwargs)


@pytest.fixture
def taxonomy_posts():
    past = timezone.now() - timedelta(hours=1)
    _post("One", ["Soil Health", "compost"], "Urban Gardening", published_at=past)
    _post("Two", ["soil health", "rain"], "Urban Gardening", published_at=past)
    _post("Three", ["compost", "!!!"], "Balcony", published_at=past)
    _post("Four", ["apples"], "Orchards", published_at=past)
    # Neither scheduled nor unpublished posts count.
    _post("Later", ["compost", "secret"], "Balcony",
          published_at=timezone.now() + timedelta(days=1))  # fmt: skip
    _post("Gone", ["compost", "secret"], "Hidden", published_at=past,
          unpublished_at=timezone.now())  # fmt: skip


def test_tags_count_published_posts_only_most_used_first(client, taxonomy_posts):
    body = client.get("/api/tags").json()
    assert body["count"] == 4
    assert body["results"] == [
        {"name": "compost", "slug": "compost", "count": 2},
        {"name": "Soil Health", "slug": "soil-health", "count": 2},
        {"name": "apples", "slug": "apples", "count": 1},
        {"name": "rain", "slug": "rain", "count": 1},
    ]


def test_categories_count_published_posts_only_most_used_first(client, taxonomy_posts):
    body = client.get("/api/categories").json()
    assert body["results"] == [
        {"name": "Urban Gardening", "slug": "urban-gardening", "count": 2},
        {"name": "Balcony", "slug": "balcony", "count": 1},
        {"name": "Orchards", "slug": "orchards", "count": 1},
    ]


def test_tags_and_categories_take_one_query_and_are_cached(
    client, taxonomy_posts, django_assert_num_queries
):
    for url in ("/api/tags", "/api/categories"):
        with django_assert_num_queries(1):
            first = client.get(url).json()
        with django_assert_num_queries(0):
            assert client.get(url).json() == first


def test_a_change_to_a_post_refreshes_the_cached_counts(
    client, editor, taxonomy_posts, django_capture_on_commit_callbacks
):
    assert client.get("/api/tags").json()["results"][3]["slug"] == "rain"
    with django_capture_on_commit_callbacks(execute=True):
        post_unpublish(post=Post.objects.get(title="Two"), user=editor)
    slugs = [tag["slug"] for tag in client.get("/api/tags").json()["results"]]
    assert "rain" not in slugs


# --- Posts by status -------------------------------------------------------------------------


def test_editors_list_posts_by_status(editor, editor_client, published, drafted_task):
    later = PostFactory(title="Scheduled one", published_at=timezone.now() + timedelta(days=1))
    gone = PostFactory(title="Taken down", unpublished_at=timezone.now())

    def slugs(status=None):
        params = {"status": status} if status else {}
        response = editor_client.get("/api/posts", params)
        assert response.status_code == 200
        return [post["slug"] for post in response.json()["results"]]

    assert slugs() == slugs("published") == [published.slug]
    assert slugs("scheduled") == [later.slug]
    assert slugs("unpublished") == [gone.slug]
    assert editor_client.get(f"/api/posts/{later.slug}").status_code == 200
    assert editor_client.get(f"/api/posts/{gone.slug}").status_code == 200


def test_others_may_list_published_posts_only(integrator_client, anon_client, editor_client):
    PostFactory(title="Scheduled one", published_at=timezone.now() + timedelta(days=1))
    for status in ("scheduled", "unpublished"):
        response = integrator_client.get("/api/posts", {"status": status})
        assert response.status_code == 403
        assert "Only editors" in response.json()["detail"]
        assert anon_client.get("/api/posts", {"status": status}).status_code == 401
    assert integrator_client.get("/api/posts", {"status": "published"}).status_code == 200
    assert anon_client.get("/api/posts").json()["count"] == 0
    for client in (editor_client, anon_client):
        response = client.get("/api/posts", {"status": "draft"})
        assert response.status_code == 400 and "status" in response.json()
