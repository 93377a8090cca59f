"""The inbox: the unread count on every admin page, live over /ws/tasks/; the inbox
page (own notifications only, opening one marks it read, the e-mail setting); and the
API (own, paginated, unread filter, mark read, settings) for each role."""

import json
import shutil
import subprocess

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from contentpipeline.asgi import application
from notifications.models import Kind, Notification
from notifications.selectors import notification_settings_of
from notifications.services import notification_mark_read, notification_send

from ..conftest import client_for
from ..factories import UserFactory, token_for
from ..tasks.factories import ContentTaskFactory

ORIGIN = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
INBOX = "/admin/notifications/notification/"


def tell(user, *, title="Draft waiting for your review: hedgehogs", **fields):
    return notification_send(
        recipients=[user], kind=fields.pop("kind", Kind.DRAFT_WAITING),
        task=fields.pop("task", None), title=title, url="http://localhost:8000/admin/",
    )[0]  # fmt: skip


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["/admin/", "/admin/tasks/contenttask/", INBOX,
                                  "/admin/password_change/"])  # fmt: skip
def test_every_admin_page_shows_the_users_unread_count(page):
    editor, other = UserFactory(editor=True), UserFactory(editor=True)
    for _ in range(2):
        tell(editor)
    tell(other)
    notification_mark_read(user=editor, notification_id=tell(editor).pk)
    html = logged_in(editor).get(page).content.decode()
    assert 'Inbox (<span id="inbox-unread">2</span>)' in html
    assert "contentpipeline/inbox.js" in html


@pytest.mark.django_db
def test_the_inbox_lists_only_the_users_own_and_opening_one_marks_it_read():
    editor, other = UserFactory(editor=True), UserFactory(editor=True)
    mine = tell(editor, title="Mine: bat boxes")
    tell(other, title="Theirs: owl boxes")
    client = logged_in(editor)
    html = client.get(INBOX).content.decode()
    assert "Mine: bat boxes" in html and "Theirs: owl boxes" not in html
    opened = client.get(reverse("admin:notifications_notification_open", args=[mine.pk]))
    assert opened.status_code == 302 and opened["Location"] == mine.url
    mine.refresh_from_db()
    assert mine.read_at is not None
    theirs = Notification.objects.get(recipient=other)
    refused = client.get(reverse("admin:notifications_notification_open", args=[theirs.pk]))
    assert refused.status_code == 404


@pytest.mark.django_db
def test_staff_who_are_not_editors_have_an_inbox_too_and_mark_read_in_bulk():
    staff = UserFactory(is_staff=True)
    items = [tell(staff) for _ in range(3)]
    client = logged_in(staff)
    answer = client.post(INBOX, {"action": "mark_read",
                                 "_selected_action": [items[0].pk, items[1].pk]})  # fmt: skip
    assert answer.status_code == 302
    assert Notification.objects.filter(recipient=staff, read_at__isnull=True).count() == 1


@pytest.mark.django_db
def test_the_inbox_page_turns_email_off_and_on():
    editor = UserFactory(editor=True)
    client = logged_in(editor)
    assert 'name="email_enabled"' in client.get(INBOX).content.decode()
    client.post(reverse("admin:notifications_notification_email"), {})
    assert notification_settings_of(user=editor).email_enabled is False
    client.post(reverse("admin:notifications_notification_email"), {"email_enabled": "on"})
    assert notification_settings_of(user=editor).email_enabled is True


# --- Live over the task socket -----------------------------------------------------------


async def dashboard(user):
    token = await database_sync_to_async(token_for)(user)
    communicator = WebsocketCommunicator(application, f"/ws/tasks/?token={token}", headers=ORIGIN)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def next_unread(communicator) -> dict:
    while True:
        message = await communicator.receive_json_from(timeout=5)
        if message["type"] == "notifications.unread":
            return message


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("editor", [True, False], ids=["editor", "integrator"])
async def test_the_task_socket_carries_the_unread_count_when_one_is_made_and_when_read(editor):
    user = await database_sync_to_async(UserFactory)(editor=editor)
    other = await database_sync_to_async(UserFactory)(editor=True)
    communicator = await dashboard(user)
    others = await dashboard(other)
    try:
        await database_sync_to_async(tell)(user)
        made = await database_sync_to_async(tell)(user)
        assert await next_unread(communicator) == {"type": "notifications.unread", "count": 1}
        assert await next_unread(communicator) == {"type": "notifications.unread", "count": 2}
        await database_sync_to_async(notification_mark_read)(user=user, notification_id=made.pk)
        assert await next_unread(communicator) == {"type": "notifications.unread", "count": 1}
        # Another user's socket hears none of it.
        await others.send_json_to({"type": "ping"})
        assert await others.receive_json_from(timeout=5) == {"type": "pong"}
    finally:
        await communicator.disconnect()
        await others.disconnect()


# --- The API -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_lists_only_the_users_own_newest_first_with_an_unread_filter():
    user, other = UserFactory(), UserFactory()
    task = ContentTaskFactory(created_by=user)
    first = tell(user, title="first", kind=Kind.DECISION, task=task)
    second = tell(user, title="second")
    tell(other, title="not yours")
    notification_mark_read(user=user, notification_id=first.pk)
    client = client_for(user)
    page = client.get("/api/notifications").json()
    assert page["count"] == 2 and [n["title"] for n in page["results"]] == ["second", "first"]
    assert page["results"][1] == {
        "id": first.pk, "kind": "decision", "task_id": str(task.pk), "title": "first",
        "url": first.url, "created_at": page["results"][1]["created_at"],
        "read_at": page["results"][1]["read_at"], "read": True,
    }  # fmt: skip
    unread = client.get("/api/notifications?unread=true").json()
    assert [n["id"] for n in unread["results"]] == [second.pk]
    assert [n["id"] for n in client.get("/api/notifications?unread=false").json()["results"]] == [
        first.pk
    ]
    assert client.get("/api/notifications?limit=1").json()["next"] is not None


@pytest.mark.django_db
def test_marking_read_over_the_api_is_for_the_recipient_alone():
    user, other = UserFactory(), UserFactory(editor=True)
    item = tell(user)
    assert client_for(other).post(f"/api/notifications/{item.pk}/read").status_code == 404
    assert client_for().post(f"/api/notifications/{item.pk}/read").status_code == 401
    answer = client_for(user).post(f"/api/notifications/{item.pk}/read")
    assert answer.status_code == 200 and answer.json()["read"] is True
    assert client_for(user).post("/api/notifications/999999/read").status_code == 404


@pytest.mark.django_db
def test_each_user_turns_email_off_over_the_api():
    user = UserFactory()
    client = client_for(user)
    assert client.get("/api/notifications/settings").json() == {"email_enabled": True}
    answer = client.patch("/api/notifications/settings", {"email_enabled": False}, format="json")
    assert answer.status_code == 200 and answer.json() == {"email_enabled": False}
    assert notification_settings_of(user=user).email_enabled is False
    assert client.put("/api/notifications/settings", {}, format="json").status_code == 400
    answer = client.put("/api/notifications/settings", {"email_enabled": True}, format="json")
    assert answer.json() == {"email_enabled": True}
    assert client_for().get("/api/notifications/settings").status_code == 401
    assert client_for().get("/api/notifications").status_code == 401


# --- The page's script ---------------------------------------------------------------------

NODE_CHECK = """
const I = require(process.argv[1]);
console.log(JSON.stringify({
  urls: [I.socketUrl({protocol: "http:", host: "127.0.0.1:8012"}),
         I.socketUrl({protocol: "https:", host: "example.org"})],
  delays: [0, 1, 5, 20].map(I.reconnectDelay),
  counts: [{type: "notifications.unread", count: 3}, {type: "notifications.unread", count: 0},
           {type: "notifications.unread", count: -1}, {type: "notifications.unread"},
           {type: "task.progress", count: 2}, null].map(I.unreadCount),
}));
"""


@pytest.mark.processes
@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_scripts_rules_for_the_socket_and_the_count():
    script = finders.find("contentpipeline/inbox.js")
    output = subprocess.run(  # noqa: S603
        [shutil.which("node"), "-e", NODE_CHECK, script],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    result = json.loads(output)
    assert result["urls"] == ["ws://127.0.0.1:8012/ws/tasks/", "wss://example.org/ws/tasks/"]
    assert result["delays"] == [1000, 2000, 30000, 30000]
    assert result["counts"] == [3, 0, None, None, None, None]
