"""A post's expiry date: the beat job takes the post down when it comes, through the
same unpublish action as an editor's (its task back to approved, a version "expired"),
and the admin's form shows and checks the date."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from approvals.services import approval_decide, post_republish
from approvals.tasks import unpublish_expired_posts
from contentpipeline.roles import SYSTEM_USERNAME
from publishing.models import Post
from tasks.models import ContentTask
from tasks.runner import run_pipeline

from ..conftest import client_for
from ..tasks.factories import ContentTaskFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_writer")]


@pytest.fixture
def published(editor, integrator) -> Post:
    task = ContentTaskFactory(created_by=integrator)
    assert run_pipeline(task.pk) == "done"
    _, post = approval_decide(task_id=task.pk, reviewer=editor, approved=True)
    return post


def expiring(editor_client, post: Post, hours: float = 1) -> None:
    when = (timezone.now() + timedelta(hours=hours)).isoformat()
    response = editor_client.patch(f"/api/posts/{post.slug}", {"expire_at": when}, format="json")
    assert response.status_code == 200, response.content


def time_passes(post: Post) -> None:
    """The expiry date comes: as beat finds it a moment after the date."""
    Post.objects.filter(pk=post.pk).update(expire_at=timezone.now() - timedelta(seconds=1))


def test_the_beat_job_takes_a_post_down_when_its_expiry_date_comes(editor_client, published):
    expiring(editor_client, published)
    assert unpublish_expired_posts() == 0  # not yet
    assert Post.objects.get(pk=published.pk).unpublished_at is None

    time_passes(published)
    assert unpublish_expired_posts() == 1

    post = Post.objects.get(pk=published.pk)
    assert post.unpublished_at is not None
    assert client_for().get(f"/api/posts/{post.slug}").status_code == 404
    assert Client().get(f"/posts/{post.slug}/").status_code == 404
    version = post.history.order_by("-history_id").first()
    assert version.history_change_reason == "expired"
    assert version.history_user.username == SYSTEM_USERNAME
    task = ContentTask.objects.get(pk=post.task_id)
    assert task.status == "approved"
    record = task.history.order_by("-history_id").first()
    assert record.history_change_reason == "post expired" and record.status == "approved"
    assert unpublish_expired_posts() == 0  # once


def test_a_post_unpublished_or_given_a_later_date_is_left_as_it_is(
    editor, editor_client, published
):
    expiring(editor_client, published)
    time_passes(published)
    later = timezone.now() + timedelta(days=1)
    response = editor_client.patch(f"/api/posts/{published.slug}",
                                   {"expire_at": later.isoformat()}, format="json")  # fmt: skip
    assert response.status_code == 200
    assert unpublish_expired_posts() == 0
    assert Post.objects.get(pk=published.pk).unpublished_at is None

    time_passes(published)
    editor_client.post(f"/api/posts/{published.slug}/unpublish")
    versions = published.history.count()
    assert unpublish_expired_posts() == 0
    assert published.history.count() == versions


def test_a_post_put_back_after_it_expired_loses_its_past_expiry_date(
    editor, editor_client, published
):
    expiring(editor_client, published)
    time_passes(published)
    unpublish_expired_posts()

    post = post_republish(post=Post.objects.get(pk=published.pk), user=editor)

    assert post.is_live and post.expire_at is None
    assert unpublish_expired_posts() == 0
    assert ContentTask.objects.get(pk=post.task_id).status == "published"


def test_the_admin_form_shows_the_expiry_date_and_refuses_one_in_the_past(editor, published):
    client = Client()
    client.force_login(editor)
    page = f"/admin/publishing/post/{published.pk}/change/"
    form = client.get(page).context["adminform"].form
    assert "expire_at" in form.fields

    data = {name: "" if value is None else value for name, value in form.initial.items()}
    data.update(
        {"tags": ",".join(published.tags),
         "published_at_0": published.published_at.strftime("%Y-%m-%d"),
         "published_at_1": published.published_at.strftime("%H:%M:%S"),
         "expire_at_0": "2001-01-01", "expire_at_1": "10:00:00"}
    )  # fmt: skip
    for name in ("sources", "models_used", "tag_slugs", "task", "unpublished_at"):
        data.pop(name, None)
    refused = client.post(page, data)
    assert refused.status_code == 200
    assert "expire_at" in refused.context["adminform"].form.errors
    assert Post.objects.get(pk=published.pk).expire_at is None

    tomorrow = timezone.localtime() + timedelta(days=1)
    data.update({"expire_at_0": tomorrow.strftime("%Y-%m-%d"),
                 "expire_at_1": tomorrow.strftime("%H:%M:%S")})  # fmt: skip
    saved = client.post(page, data)
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    assert Post.objects.get(pk=published.pk).expire_at is not None
