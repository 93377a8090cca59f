"""Who may do what at the review desk and in the audit trail: anonymous, the task's
integrator, another integrator, an editor, and staff who are not editors, at every
approval endpoint and admin page."""

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from approvals.models import ApprovalDecision
from approvals.services import approval_decide
from tasks.runner import run_pipeline
from tasks.selectors import task_content_hash

from ..conftest import client_for
from ..factories import UserFactory
from ..tasks.factories import ContentTaskFactory

# The writing is not what these tests are about: QuickWriter writes (tests/fakes.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_writer")]

ROLES = ["anonymous", "owner", "other_integrator", "editor", "staff"]


@pytest.fixture
def people(db):
    owner = UserFactory()
    return {
        "anonymous": None,
        "owner": owner,
        "other_integrator": UserFactory(),
        "editor": UserFactory(editor=True),
        "staff": UserFactory(is_staff=True),
    }


@pytest.fixture
def drafted(people):
    task = ContentTaskFactory(created_by=people["owner"])
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    return task


@pytest.fixture
def decided(people):
    task = ContentTaskFactory(created_by=people["owner"])
    assert run_pipeline(task.pk) == "done"
    approval_decide(task_id=task.pk, reviewer=UserFactory(editor=True), approved=False,
                    feedback="Needs sources")  # fmt: skip
    return task


def browser(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("role", "expected"),
    list(zip(ROLES, [401, 403, 403, 200, 403], strict=True)),
)
def test_only_editors_decide_over_the_api(people, drafted, role, expected):
    response = client_for(people[role]).post(
        f"/api/tasks/{drafted.pk}/approval", {"approved": True}, format="json"
    )
    assert response.status_code == expected
    assert ApprovalDecision.objects.filter(task=drafted).exists() == (expected == 200)


@pytest.mark.parametrize(
    ("role", "expected"),
    list(zip(ROLES, [401, 403, 403, 200, 403], strict=True)),
)
def test_only_editors_read_the_audit_trail_over_the_api(people, decided, role, expected):
    client = client_for(people[role])
    assert client.get("/api/approvals").status_code == expected
    assert client.get("/api/approvals?format=csv").status_code == expected


@pytest.mark.parametrize(
    ("role", "expected"),
    list(zip(ROLES, [401, 200, 404, 200, 404], strict=True)),
)
def test_a_tasks_history_is_its_owners_and_the_editors(people, decided, role, expected):
    response = client_for(people[role]).get(f"/api/tasks/{decided.pk}/history")
    assert response.status_code == expected


ADMIN_PAGES = {
    "task list": lambda task: reverse("admin:tasks_contenttask_changelist"),
    "review page": lambda task: reverse("admin:tasks_contenttask_review", args=[task.pk]),
    "task history": lambda task: reverse("admin:tasks_contenttask_history", args=[task.pk]),
    "audit trail": lambda task: reverse("admin:approvals_approvaldecision_changelist"),
}


@pytest.mark.parametrize("page", sorted(ADMIN_PAGES))
@pytest.mark.parametrize(
    ("role", "expected"),
    list(zip(ROLES, ["login", "login", "login", 200, 403], strict=True)),
)
def test_the_review_desk_and_audit_trail_in_admin_are_for_editors(
    people, decided, page, role, expected
):
    response = browser(people[role]).get(ADMIN_PAGES[page](decided))
    if expected == "login":
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    else:
        assert response.status_code == expected


@pytest.mark.parametrize("role", ["owner", "other_integrator", "staff"])
def test_nobody_but_an_editor_decides_through_the_admin(people, drafted, role):
    url = reverse("admin:tasks_contenttask_review", args=[drafted.pk])
    # Complete forms, with the text's hash the desk would have shown an editor.
    shown = task_content_hash(drafted)
    form = {"step": "decide", "decision": "approve", "expected_content_hash": shown}
    browser(people[role]).post(url, form)
    changelist = reverse("admin:tasks_contenttask_changelist")
    bulk = {"action": "approve_selected", "_selected_action": [str(drafted.pk)],
            "content_hash_shown": f"{drafted.pk}:{shown}"}  # fmt: skip
    browser(people[role]).post(changelist, bulk)
    drafted.refresh_from_db()
    assert drafted.status == "awaiting_approval"
    assert not ApprovalDecision.objects.exists()


def test_the_audit_trail_in_admin_is_read_only_even_for_a_superuser(decided):
    root = UserFactory(is_staff=True, is_superuser=True)
    decision = ApprovalDecision.objects.get(task=decided)
    client = browser(root)
    change = reverse("admin:approvals_approvaldecision_change", args=[decision.pk])
    page = client.get(change)
    assert page.status_code == 200 and 'name="feedback"' not in page.content.decode()
    client.post(change, {"feedback": "Forged"})
    delete = reverse("admin:approvals_approvaldecision_delete", args=[decision.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    decision = ApprovalDecision.objects.get(pk=decision.pk)
    assert decision.feedback == "Needs sources"


def test_the_audit_trail_page_filters_and_exports_the_selection_as_csv(people, decided):
    editor = people["editor"]
    other = ContentTaskFactory(topic="Another task for the trail")
    run_pipeline(other.pk)
    approval_decide(task_id=other.pk, reviewer=editor, approved=True)
    client = browser(editor)
    changelist = reverse("admin:approvals_approvaldecision_changelist")
    page = client.get(changelist, {"decision": "approved"}).content.decode()
    assert "Another task for the trail" in page and "Needs sources" not in page
    page = client.get(changelist, {"reviewer": editor.username}).content.decode()
    assert "Another task for the trail" in page and "Needs sources" not in page
    page = client.get(changelist, {"q": str(decided.pk)}).content.decode()
    assert "Needs sources" in page and "Another task for the trail" not in page

    ids = [str(pk) for pk in ApprovalDecision.objects.values_list("pk", flat=True)]
    response = client.post(changelist, {"action": "export_csv", "_selected_action": ids})
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 3 and rows[0][:3] == ["id", "task_id", "generation"]
    assert {row[1] for row in rows[1:]} == {str(decided.pk), str(other.pk)}
