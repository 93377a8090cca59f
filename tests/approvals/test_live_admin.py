"""The live task list in admin: the changelist carries live_tasks.js and the choice
labels it shows, its rows carry the hooks the script finds them by, and the editors'
stream it follows really delivers another user's draft as it comes to await approval."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.urls import reverse

from contentpipeline.asgi import application
from tasks.models import Stage, Status
from tasks.runner import run_pipeline

from ..factories import UserFactory
from ..tasks.factories import ContentTaskFactory

SCRIPT = "contentpipeline/live_tasks.js"
CHANGELIST = "admin:tasks_contenttask_changelist"


def json_script(page: str, element_id: str):
    found = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', page)
    assert found, f"no #{element_id} in the page"
    return json.loads(found.group(1))


def row_of(page: str, task_id) -> str:
    """The changelist row whose action checkbox holds the task's id."""
    found = re.search(
        rf'<tr>(?:(?!</tr>).)*name="_selected_action" value="{task_id}"(?:(?!</tr>).)*</tr>',
        page,
        re.S,
    )
    assert found, f"no row for task {task_id}"
    return found.group(0)


@pytest.mark.django_db
def test_the_task_list_carries_the_live_script_and_the_labels_it_shows(client):
    client.force_login(UserFactory(editor=True))
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert f'<script src="{static(SCRIPT)}" defer></script>' in page
    assert dict(json_script(page, "live-task-status-labels")) == dict(Status.choices)
    assert dict(json_script(page, "live-task-stage-labels")) == dict(Stage.choices)
    assert dict(Status.choices)["awaiting_approval"] == "Awaiting Approval"


@pytest.mark.django_db
def test_a_rows_cells_are_where_the_script_looks_for_them(client):
    """live_tasks.js finds a row by `input[name=_selected_action][value=<id>]` and its
    cells by `td.field-<column>`, and compares the status cell with the labels."""
    client.force_login(UserFactory(editor=True))
    task = ContentTaskFactory(created_by=UserFactory())
    run_pipeline(task.pk)
    row = row_of(client.get(reverse(CHANGELIST)).content.decode(), task.pk)
    assert '<td class="field-status">Awaiting Approval</td>' in row
    assert '<td class="field-stage">Done</td>' in row
    assert '<td class="field-progress">100</td>' in row
    review = reverse("admin:tasks_contenttask_review", args=[task.pk])
    assert re.search(rf'<td class="field-review_link"><a [^>]*href="{review}"', row)


@pytest.mark.django_db
def test_a_user_outside_editors_does_not_get_the_task_list(client):
    url = reverse(CHANGELIST)
    client.force_login(UserFactory())
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))

    client.force_login(UserFactory(is_staff=True))
    response = client.get(url)
    assert response.status_code == 403
    assert static(SCRIPT) not in response.content.decode()


def test_the_script_is_a_static_file_and_is_served(client, settings):
    path = finders.find(SCRIPT)
    assert path and Path(path).read_text().count("/ws/tasks/") >= 1
    settings.WHITENOISE_USE_FINDERS = True  # read when the client builds its middleware
    response = client.get(static(SCRIPT))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == Path(path).read_bytes()


@pytest.fixture
def editor_session(client, transactional_db) -> str:
    client.force_login(UserFactory(editor=True))
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.mark.django_db(transaction=True)
async def test_an_editors_browser_session_receives_another_users_draft_as_it_arrives(
    editor_session,
):
    task = await database_sync_to_async(ContentTaskFactory)()  # another user's
    # The page's own origin and its session cookie, as the browser sends them.
    headers = [
        (b"origin", b"http://localhost"),
        (b"host", b"localhost"),
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={editor_session}".encode()),
    ]
    socket = WebsocketCommunicator(application, "/ws/tasks/", headers=headers)
    assert (await socket.connect())[0]

    assert await database_sync_to_async(run_pipeline)(task.pk) == "done"
    events = []
    while not events or events[-1]["status"] != Status.AWAITING_APPROVAL:
        events.append(await socket.receive_json_from(timeout=10))

    assert {e["task_id"] for e in events} == {str(task.pk)}
    assert all(e["type"] == "task.progress" for e in events)
    # What the script maps to labels and writes into the cells.
    assert {e["status"] for e in events} <= set(Status.values)
    assert {e["stage"] for e in events} <= set(Stage.values)
    assert any(0 < e["progress"] < 100 for e in events)
    assert (events[-1]["stage"], events[-1]["progress"]) == (Stage.DONE, 100)
    # The script's keepalive is answered.
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from(timeout=5) == {"type": "pong"}
    await socket.disconnect()


NODE_CHECK = """
const L = require(process.argv[1]);
const labels = {status: {awaiting_approval: "Awaiting Approval", in_progress: "In Progress"},
                stage: {seo: "Seo", done: "Done"}};
const draft = {task_id: "t1", status: "awaiting_approval", stage: "done", progress: 100};
console.log(JSON.stringify({
  urls: [L.socketUrl({protocol: "http:", host: "127.0.0.1:8012"}),
         L.socketUrl({protocol: "https:", host: "example.org"})],
  delays: [0, 1, 2, 5, 20].map(L.reconnectDelay),
  titles: [L.titleWithCount("Tasks", 0), L.titleWithCount("Tasks", 3)],
  cells: L.cellTexts({status: "in_progress", stage: "seo", progress: 80}, labels),
  newDraft: {
    notOnPage: L.isNewDraft(draft, null, new Set()),
    wasInProgress: L.isNewDraft(draft, "in_progress", new Set()),
    alreadyShown: L.isNewDraft(draft, "awaiting_approval", new Set()),
    alreadyCounted: L.isNewDraft(draft, null, new Set(["t1"])),
    stillRunning: L.isNewDraft({...draft, status: "in_progress"}, null, new Set()),
  },
}));
"""


@pytest.mark.processes
@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_scripts_rules_for_urls_titles_cells_and_new_drafts():
    script = finders.find(SCRIPT)
    output = subprocess.run(  # noqa: S603
        [shutil.which("node"), "-e", NODE_CHECK, script],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    result = json.loads(output)
    assert result["urls"] == ["ws://127.0.0.1:8012/ws/tasks/", "wss://example.org/ws/tasks/"]
    assert result["delays"] == [1000, 2000, 4000, 30000, 30000]
    assert result["titles"] == ["Tasks", "(3) Tasks"]
    assert result["cells"] == {"status": "In Progress", "stage": "Seo", "progress": "80"}
    assert result["newDraft"] == {
        "notOnPage": True,
        "wasInProgress": True,
        "alreadyShown": False,
        "alreadyCounted": False,
        "stillRunning": False,
    }
