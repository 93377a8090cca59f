"""Webhooks of posts: `post.published`, `post.updated` and `post.unpublished` reach the
webhooks of the owner of the post's task, with the post's public URL, signed, through
the deliveries' own machinery (rows, attempts, the worker); a receiver on loopback
checks each signature as the README tells integrators to."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from approvals.services import approval_decide, post_republish
from approvals.tasks import unpublish_expired_posts
from publishing.models import Post
from publishing.tasks import publish_due_posts
from tasks.models import ContentTask, WebhookDelivery
from tasks.runner import run_pipeline
from tasks.services import task_create
from tasks.services.webhooks import webhook_create, webhook_deliver

from ..conftest import client_for
from ..factories import UserFactory
from ..tasks.factories import ContentTaskFactory
from ..tasks.receiver import WebhookReceiver

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_writer")]

POST_EVENTS = ("post.published", "post.updated", "post.unpublished")


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True  # the receiver is on loopback
    settings.SITE_URL = "https://blog.example.org"
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
def owner(receiver):
    """An integrator with a webhook pointing at the receiver."""
    user = UserFactory()
    receiver.secret = webhook_create(user=user, url=receiver.url()).secret
    return user


def drafted(owner) -> ContentTask:
    task = ContentTaskFactory(created_by=owner)
    assert run_pipeline(task.pk) == "done"
    return task


def deliver_post_events() -> list[dict]:
    """Make the first attempt of every post event not attempted yet, as the deliveries'
    worker does; their payloads, oldest first."""
    pending = WebhookDelivery.objects.filter(event__in=POST_EVENTS, attempts=0).order_by("id")
    payloads = []
    for delivery in pending:
        assert webhook_deliver(delivery_id=delivery.pk, attempt=1) is None
        payloads.append(delivery.payload)
    return payloads


def post_requests(receiver) -> list:
    return [r for r in receiver.requests if r.headers["X-Webhook-Event"] in POST_EVENTS]


def test_the_owner_is_told_when_a_post_is_published_edited_and_taken_down(
    receiver, owner, editor, editor_client
):
    task = drafted(owner)

    _, post = approval_decide(task_id=task.pk, reviewer=editor, approved=True)
    deliver_post_events()
    patched = editor_client.patch(f"/api/posts/{post.slug}", {"title": "Rain gardens, revised"},
                                  format="json")  # fmt: skip
    assert patched.status_code == 200
    deliver_post_events()
    assert editor_client.post(f"/api/posts/{post.slug}/unpublish").status_code == 200
    deliver_post_events()

    requests = post_requests(receiver)
    assert [r.headers["X-Webhook-Event"] for r in requests] == list(POST_EVENTS)
    assert all(request.verified for request in requests), "a signature the README refuses"
    public_url = f"https://blog.example.org/posts/{post.slug}/"
    for request in requests:
        body = request.json
        assert body["event"] == request.headers["X-Webhook-Event"]
        assert body["url"] == public_url and body["slug"] == post.slug
        assert body["task_id"] == str(task.pk)
        assert body["delivery_id"] == int(request.headers["X-Webhook-Delivery"])
    titles = [r.json["title"] for r in requests]
    assert titles == [post.title, "Rain gardens, revised", "Rain gardens, revised"]
    versions = [r.json["version_id"] for r in requests]
    assert versions == sorted(versions) and len(set(versions)) == 3
    assert requests[-1].json["reason"] == f"unpublished by {editor.username}"
    delivered = WebhookDelivery.objects.filter(event__in=POST_EVENTS)
    assert set(delivered.values_list("state", "attempts")) == {("delivered", 1)}


def test_a_scheduled_post_going_live_by_beat_is_published_then(receiver, owner, editor):
    task = drafted(owner)
    later = timezone.now() + timedelta(hours=2)
    _, post = approval_decide(task_id=task.pk, reviewer=editor, approved=True, publish_at=later)
    assert deliver_post_events() == []  # not live yet: nothing for readers to see

    Post.objects.filter(pk=post.pk).update(published_at=timezone.now() - timedelta(seconds=1))
    assert publish_due_posts() == 1

    [event] = deliver_post_events()
    assert event["event"] == "post.published" and event["slug"] == post.slug
    assert ContentTask.objects.get(pk=task.pk).status == "published"
    assert publish_due_posts() == 0 and deliver_post_events() == []


def test_expiry_is_an_unpublished_event_saying_so(receiver, owner, editor, editor_client):
    _, post = approval_decide(task_id=drafted(owner).pk, reviewer=editor, approved=True)
    when = (timezone.now() + timedelta(hours=1)).isoformat()
    editor_client.patch(f"/api/posts/{post.slug}", {"expire_at": when}, format="json")
    deliver_post_events()
    Post.objects.filter(pk=post.pk).update(expire_at=timezone.now() - timedelta(seconds=1))

    assert unpublish_expired_posts() == 1

    [event] = deliver_post_events()
    assert (event["event"], event["reason"]) == ("post.unpublished", "expired")
    assert post_requests(receiver)[-1].verified


def test_putting_a_post_back_is_published_again(receiver, owner, editor):
    _, post = approval_decide(task_id=drafted(owner).pk, reviewer=editor, approved=True)
    client_for(editor).post(f"/api/posts/{post.slug}/unpublish")
    deliver_post_events()

    post_republish(post=post, user=editor)

    [event] = deliver_post_events()
    assert event["event"] == "post.published" and event["expire_at"] is None


def test_changes_readers_cannot_see_tell_nobody(receiver, owner, editor, editor_client):
    # A scheduled post rescheduled, and a post edited while it is off the site.
    later = timezone.now() + timedelta(days=1)
    _, scheduled = approval_decide(task_id=drafted(owner).pk, reviewer=editor, approved=True,
                                   publish_at=later)  # fmt: skip
    moved = (later + timedelta(days=1)).isoformat()
    assert editor_client.patch(f"/api/posts/{scheduled.slug}", {"publish_at": moved},
                               format="json").status_code == 200  # fmt: skip
    assert deliver_post_events() == []
    _, post = approval_decide(task_id=drafted(owner).pk, reviewer=editor, approved=True)
    editor_client.post(f"/api/posts/{post.slug}/unpublish")
    deliver_post_events()
    assert editor_client.patch(f"/api/posts/{post.slug}", {"title": "Quietly fixed"},
                               format="json").status_code == 200  # fmt: skip
    assert deliver_post_events() == []


def test_nobody_but_the_tasks_owner_is_told(receiver, owner, editor):
    someone = UserFactory()
    webhook_create(user=someone, url=receiver.url("/someone"))
    _, post = approval_decide(task_id=drafted(owner).pk, reviewer=editor, approved=True)
    deliver_post_events()
    assert {r.path for r in post_requests(receiver)} == {"/hooks"}
    # A task of someone without webhooks: its post's events go nowhere.
    task = task_create(user=UserFactory(), topic="Nobody listens to this one")
    assert run_pipeline(task.pk) == "done"
    approval_decide(task_id=task.pk, reviewer=editor, approved=True)
    assert deliver_post_events() == []


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_the_deliveries_worker_brings_post_events_to_the_receiver(worker_factory, receiver):
    # The whole way: recorded by the services, sent after commit to the deliveries'
    # queue, attempted by a real Celery worker of its own, verified by the receiver.
    worker_factory(deliveries=True, env={"WEBHOOK_ALLOW_PRIVATE": "true"})
    owner = UserFactory()
    receiver.secret = webhook_create(user=owner, url=receiver.url()).secret
    editor = UserFactory(editor=True)
    task = drafted(owner)

    _, post = approval_decide(task_id=task.pk, reviewer=editor, approved=True)
    client_for(editor).post(f"/api/posts/{post.slug}/unpublish")

    deadline = time.monotonic() + 60
    while len(post_requests(receiver)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    requests = post_requests(receiver)
    assert sorted(r.headers["X-Webhook-Event"] for r in requests) == [
        "post.published",
        "post.unpublished",
    ]
    assert all(r.verified for r in requests)
    assert {r.json["url"] for r in requests} == {f"https://blog.example.org/posts/{post.slug}/"}
