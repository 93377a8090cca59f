"""Approval workflows: a draft goes through its workflow's steps in order, each decided
by the members of one group; the last step's approval publishes it."""

import csv
import io
import threading

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse

from approvals.models import ApprovalDecision, Workflow, WorkflowStep
from approvals.services import approval_decide, comment_add, comment_resolve
from approvals.workflows import current_step, tasks_waiting_for, workflow_for_task
from contentpipeline.errors import Forbidden, InvalidTransition, NotFound
from publishing.models import Post
from tasks.models import ContentTask
from tasks.runner import run_pipeline
from tasks.selectors import task_result

from ..conftest import client_for
from ..factories import UserFactory
from ..tasks.factories import ContentTaskFactory
from .desk import decide_at_desk

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_writer")]

CATEGORY = "Contracts"


@pytest.fixture
def legal():
    return Group.objects.create(name="Legal")


@pytest.fixture
def two_steps(legal):
    """Editors, then Legal, for the tasks of one category."""
    editors, _ = Group.objects.get_or_create(name="Editors")
    workflow = Workflow.objects.create(name="Editorial and legal", category=CATEGORY)
    WorkflowStep.objects.create(workflow=workflow, position=1, name="Editorial", group=editors)
    WorkflowStep.objects.create(workflow=workflow, position=2, name="Legal check", group=legal)
    return workflow


@pytest.fixture
def lawyer(legal):
    user = UserFactory(username="lawyer")
    user.groups.add(legal)
    return user


def drafted(**fields) -> ContentTask:
    task = ContentTaskFactory(generate_image=False, **fields)
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    assert task.status == "awaiting_approval"
    return task


def approve(task, user, **more):
    return approval_decide(task_id=task.pk, reviewer=user, approved=True, **more)


# --- The default workflow ---------------------------------------------------------------


def test_the_default_workflow_is_one_step_decided_by_the_editors(editor):
    default = Workflow.objects.get(is_default=True)
    assert default.name == "Editorial review"
    assert [(s.position, s.group.name) for s in default.steps.all()] == [(1, "Editors")]
    task = drafted()
    record, post = approve(task, editor)
    assert post is not None and (record.step, record.step_name) == (1, "Editors")
    assert record.workflow == default


def test_only_one_workflow_can_be_the_default():
    with pytest.raises(IntegrityError), transaction.atomic():
        Workflow.objects.create(name="Another default", is_default=True)


# --- Two steps ---------------------------------------------------------------------------


def test_an_approved_first_step_waits_for_the_second_and_publishes_nothing(two_steps, editor):
    task = drafted(category=CATEGORY)
    record, post = approve(task, editor)
    task.refresh_from_db()
    assert post is None and task.status == "awaiting_approval"
    assert (record.step, record.step_name, record.workflow) == (1, "Editorial", two_steps)
    assert not Post.objects.filter(task=task).exists()
    flow, step = current_step(task)
    assert flow.name == "Editorial and legal" and (step.position, step.group) == (2, "Legal")
    reasons = list(task.history.values_list("history_change_reason", flat=True))
    assert any(
        "approved at step 1 (Editorial)" in reason and "waiting for step 2 (Legal check)" in reason
        for reason in reasons
        if reason
    )


def test_the_last_step_approved_by_legal_publishes(two_steps, editor, lawyer):
    task = drafted(category=CATEGORY)
    approve(task, editor)
    record, post = approve(task, lawyer)
    task.refresh_from_db()
    assert post is not None and post.is_live and task.status == "published"
    assert post.approved_by_role == "legal"  # the provenance names who approved it last
    assert (record.step, record.step_name, record.round) == (2, "Legal check", 1)
    steps = ApprovalDecision.objects.filter(task=task).order_by("step")
    assert [(d.step, d.reviewer) for d in steps] == [(1, editor), (2, lawyer)]


def test_an_editor_cannot_decide_the_legal_step(two_steps, editor):
    task = drafted(category=CATEGORY)
    approve(task, editor)
    other_editor = UserFactory(editor=True)
    with pytest.raises(Forbidden, match="Legal check"):
        approve(task, other_editor)
    with pytest.raises(Forbidden, match="Legal check"):
        approval_decide(task_id=task.pk, reviewer=other_editor, approved=False, feedback="No")
    assert ApprovalDecision.objects.filter(task=task).count() == 1


def test_legal_cannot_decide_the_first_step(two_steps, lawyer):
    task = drafted(category=CATEGORY)
    with pytest.raises(Forbidden, match="Editorial"):
        approve(task, lawyer)


def test_one_person_in_both_groups_cannot_approve_both_steps(two_steps, legal, editor):
    editor.groups.add(legal)
    task = drafted(category=CATEGORY)
    approve(task, editor)
    with pytest.raises(InvalidTransition, match="needs someone else to approve step 2"):
        approve(task, editor)
    task.refresh_from_db()
    assert task.status == "awaiting_approval"


def test_one_person_may_approve_both_steps_when_the_workflow_allows_it(two_steps, legal, editor):
    two_steps.allow_same_reviewer = True
    two_steps.save()
    editor.groups.add(legal)
    task = drafted(category=CATEGORY)
    approve(task, editor)
    _, post = approve(task, editor)
    assert post is not None


def test_a_step_can_be_named_so_a_stale_decision_decides_nothing(two_steps, legal, editor):
    two_steps.allow_same_reviewer = True
    two_steps.save()
    editor.groups.add(legal)
    task = drafted(category=CATEGORY)
    approve(task, editor, step=1)
    with pytest.raises(InvalidTransition, match="at step 2"):
        approve(task, editor, step=1)


def test_legal_requesting_changes_starts_the_next_draft_at_step_one(two_steps, editor, lawyer):
    task = drafted(category=CATEGORY)
    approve(task, editor)
    record, _ = approval_decide(
        task_id=task.pk, reviewer=lawyer, approved=False, regenerate=True, feedback="Cite it"
    )
    assert (record.decision, record.step) == ("changes_requested", 2)
    task.refresh_from_db()
    assert task.generation == 2
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    assert task.status == "awaiting_approval"
    assert current_step(task)[1].position == 1
    with pytest.raises(Forbidden):
        approve(task, lawyer)
    record, post = approve(task, editor)
    assert (record.generation, record.round, record.step, post) == (2, 1, 1, None)


def test_legal_rejecting_ends_the_draft(two_steps, editor, lawyer):
    task = drafted(category=CATEGORY)
    approve(task, editor)
    approval_decide(task_id=task.pk, reviewer=lawyer, approved=False, feedback="Not this")
    task.refresh_from_db()
    assert task.status == "rejected"
    assert not Post.objects.filter(task=task).exists()


def test_a_draft_keeps_the_workflow_its_round_started_with(two_steps, editor, lawyer):
    task = drafted(category=CATEGORY)
    approve(task, editor)
    two_steps.category = "Something else"  # the workflow no longer applies to new drafts
    two_steps.save()
    _, post = approve(task, lawyer)
    assert post is not None


# --- Which workflow applies -------------------------------------------------------------


def one_step(name, legal, **match) -> Workflow:
    workflow = Workflow.objects.create(name=name, **match)
    WorkflowStep.objects.create(workflow=workflow, position=1, name=name, group=legal)
    return workflow


def test_the_most_specific_workflow_applies_else_the_default(legal):
    by_both = one_step("Both", legal, task_type="newsletter", category="Law")
    by_type = one_step("Type", legal, task_type="newsletter")
    one_step("Category", legal, category="Law")
    choose = lambda **fields: workflow_for_task(ContentTask(**fields)).name  # noqa: E731
    assert choose(task_type="newsletter", category="law") == "Both"
    assert choose(task_type="newsletter", category="Other") == "Type"
    assert choose(task_type="blog_post", category="Law") == "Category"
    assert choose(task_type="blog_post", category="Other") == "Editorial review"
    by_both.delete()
    assert choose(task_type="newsletter", category="Law") == "Type"
    by_type.delete()
    assert choose(task_type="newsletter", category="Law") == "Category"


def test_a_workflow_without_steps_never_applies():
    Workflow.objects.create(name="Empty", category=CATEGORY)
    assert workflow_for_task(ContentTask(category=CATEGORY)).name == "Editorial review"


# --- The API ------------------------------------------------------------------------------


def test_the_task_shows_where_its_draft_is_in_its_workflow(two_steps, integrator, editor):
    task = drafted(category=CATEGORY, created_by=integrator)
    owner = client_for(integrator)
    shown = owner.get(f"/api/tasks/{task.pk}").json()["workflow"]
    assert shown == {
        "name": "Editorial and legal",
        "step": 1,
        "steps": [
            {"name": "Editorial", "group": "Editors", "decision": None, "reviewer": None,
             "at": None},
            {"name": "Legal check", "group": "Legal", "decision": None, "reviewer": None,
             "at": None},
        ],
    }  # fmt: skip
    answer = client_for(editor).post(f"/api/tasks/{task.pk}/approval", {"approved": True})
    assert answer.status_code == 200, answer.content
    assert answer.json()["step"] == 1 and answer.json()["post"] is None
    shown = owner.get(f"/api/tasks/{task.pk}").json()["workflow"]
    assert shown["step"] == 2
    assert shown["steps"][0]["decision"] == "approved"
    assert shown["steps"][0]["reviewer"] == editor.username and shown["steps"][0]["at"]
    assert shown["steps"][1]["decision"] is None


def test_a_task_before_its_draft_shows_no_workflow():
    task = ContentTaskFactory()
    response = client_for(task.created_by).get(f"/api/tasks/{task.pk}")
    assert response.json()["workflow"] is None


def test_legal_decides_its_step_over_the_api_and_reads_the_task_only_then(
    two_steps, editor, lawyer
):
    task = drafted(category=CATEGORY)
    legal_client = client_for(lawyer)
    assert legal_client.get(f"/api/tasks/{task.pk}").status_code == 404  # not their step yet
    refused = legal_client.post(f"/api/tasks/{task.pk}/approval", {"approved": True})
    assert refused.status_code == 403 and "Editorial" in refused.json()["detail"]
    approve(task, editor)
    assert legal_client.get(f"/api/tasks/{task.pk}").status_code == 200
    answer = legal_client.post(f"/api/tasks/{task.pk}/approval", {"approved": True})
    assert answer.status_code == 200, answer.content
    assert answer.json()["step"] == 2 and answer.json()["post"]["slug"]


def test_an_editor_deciding_the_legal_step_over_the_api_gets_403(two_steps, editor):
    task = drafted(category=CATEGORY)
    approve(task, editor)
    response = client_for(UserFactory(editor=True)).post(
        f"/api/tasks/{task.pk}/approval", {"approved": True}
    )
    assert response.status_code == 403 and "Legal" in response.json()["detail"]


def test_approving_both_steps_alone_over_the_api_answers_409(two_steps, legal, editor):
    editor.groups.add(legal)
    task = drafted(category=CATEGORY)
    client = client_for(editor)
    assert client.post(f"/api/tasks/{task.pk}/approval", {"approved": True}).status_code == 200
    response = client.post(f"/api/tasks/{task.pk}/approval", {"approved": True})
    assert response.status_code == 409 and "someone else" in response.json()["detail"]


def test_the_audit_trail_lists_each_step_decided(two_steps, editor, lawyer):
    task = drafted(category=CATEGORY)
    approve(task, editor)
    approve(task, lawyer)
    client = client_for(editor)
    items = client.get("/api/approvals", {"task": str(task.pk)}).json()["results"]
    assert [(i["step"], i["step_name"], i["reviewer"]) for i in items] == [
        (2, "Legal check", "lawyer"),
        (1, "Editorial", editor.username),
    ]
    exported = client.get("/api/approvals", {"format": "csv", "task": str(task.pk)})
    rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert [(row["step"], row["step_name"]) for row in rows] == [
        ("2", "Legal check"),
        ("1", "Editorial"),
    ]


def test_waiting_for_my_groups_lists_the_drafts_at_my_groups_steps(two_steps, editor, lawyer):
    at_legal = drafted(category=CATEGORY)
    approve(at_legal, editor)
    at_editors = drafted(category=CATEGORY)
    plain = drafted()
    ids = lambda client: {  # noqa: E731
        item["id"]
        for item in client.get("/api/tasks", {"waiting_for_my_groups": "true"}).json()["results"]
    }
    assert ids(client_for(lawyer)) == {str(at_legal.pk)}
    assert ids(client_for(UserFactory(editor=True))) == {str(at_editors.pk), str(plain.pk)}
    everything = client_for(editor).get("/api/tasks").json()["count"]
    assert everything == 3  # without the filter, an editor's list is every task


# --- The review desk and the admin -----------------------------------------------------------


def test_the_review_page_shows_the_step_and_who_decided_the_earlier_ones(two_steps, editor, lawyer):
    task = drafted(category=CATEGORY)
    approve(task, editor)
    desk = Client()
    desk.force_login(lawyer)  # in Legal, neither staff nor an editor
    page = desk.get(reverse("admin:tasks_contenttask_review", args=[task.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "step 2 of 2</strong>: Legal check (decided by Legal)" in text
    assert f"<td>Editorial</td><td>Editors</td><td>approved</td><td>{editor.username}</td>" in (
        text
    )
    listed = desk.get(reverse("admin:tasks_contenttask_changelist"), {"for_me": "groups"})
    assert listed.status_code == 200 and task.topic in listed.content.decode()


def test_legal_cannot_open_a_draft_still_at_the_editors_step(two_steps, lawyer):
    task = drafted(category=CATEGORY)
    desk = Client()
    desk.force_login(lawyer)
    page = desk.get(reverse("admin:tasks_contenttask_review", args=[task.pk]))
    assert page.status_code == 404


def test_a_workflow_is_saved_in_the_admin_only_with_a_step(editor):
    desk = Client()
    desk.force_login(editor)
    url = reverse("admin:approvals_workflow_add")
    form = {
        "name": "No steps", "task_type": "", "category": "",
        "steps-TOTAL_FORMS": "1", "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "1", "steps-MAX_NUM_FORMS": "1000",
        "steps-0-position": "", "steps-0-name": "", "steps-0-group": "",
    }  # fmt: skip
    response = desk.post(url, form)
    assert response.status_code == 200 and not Workflow.objects.filter(name="No steps").exists()
    group = Group.objects.get(name="Editors")
    form.update({"name": "One step", "steps-0-position": "1", "steps-0-name": "Desk",
                 "steps-0-group": str(group.pk)})  # fmt: skip
    response = desk.post(url, form)
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert Workflow.objects.get(name="One step").steps.get().name == "Desk"


def test_a_second_default_workflow_is_refused_by_validation():
    workflow = Workflow(name="Second default", is_default=True)
    with pytest.raises(ValidationError):
        workflow.full_clean()


# --- Races ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_legal_reviewers_racing_make_one_decision(queue_without_worker, two_steps):
    editor = UserFactory(editor=True)
    lawyers = [UserFactory(), UserFactory()]
    for lawyer in lawyers:
        lawyer.groups.add(two_steps.steps.get(position=2).group)
    task = drafted(category=CATEGORY)
    approve(task, editor)
    start = threading.Barrier(len(lawyers))
    outcomes: list[str] = []

    def decide(lawyer) -> None:
        try:
            start.wait()
            approve(task, lawyer)
            outcomes.append("decided")
        except InvalidTransition:
            outcomes.append("409")
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(lawyer,)) for lawyer in lawyers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["409", "decided"]
    assert ApprovalDecision.objects.filter(task=task, step=2).count() == 1
    task.refresh_from_db()
    assert task.status == "published"


def test_finding_the_drafts_waiting_for_a_group_reads_the_queue_at_once(
    two_steps, editor, lawyer, django_assert_max_num_queries
):
    waiting = [drafted(category=CATEGORY) for _ in range(3)]
    for task in waiting:
        approve(task, editor)
    drafted(category=CATEGORY)  # at the editors' step
    with django_assert_max_num_queries(6):
        found = set(tasks_waiting_for(lawyer).values_list("pk", flat=True))
    assert found == {task.pk for task in waiting}


def test_the_command_decides_the_current_step_and_says_which(two_steps, editor, lawyer):
    task = drafted(category=CATEGORY)
    out = io.StringIO()
    call_command("approval_decide", str(task.pk), "--approve", "--as", editor.username, stdout=out)
    assert "at step 1 (Editorial)" in out.getvalue()
    with pytest.raises(CommandError, match="at step 2"):
        call_command(
            "approval_decide", str(task.pk), "--approve", "--as", lawyer.username, "--step", "1"
        )
    call_command("approval_decide", str(task.pk), "--approve", "--as", lawyer.username, stdout=out)
    assert "at step 2 (Legal check)" in out.getvalue()
    task.refresh_from_db()
    assert task.status == "published"


def test_the_review_form_decides_only_the_step_its_page_showed(two_steps, legal, editor):
    two_steps.allow_same_reviewer = True
    two_steps.save()
    editor.groups.add(legal)
    task = drafted(category=CATEGORY)
    desk = Client()
    desk.force_login(editor)
    page = desk.get(reverse("admin:tasks_contenttask_review", args=[task.pk])).content.decode()
    assert "Approve step 1 (Editorial): on to step 2 (Legal check, Legal)" in page
    assert '<input type="hidden" name="workflow_step" value="1"' in page
    decide_at_desk(desk, task, page, decision="approve", workflow_step="1")
    assert ApprovalDecision.objects.filter(task=task).count() == 1
    stale = decide_at_desk(desk, task, page, decision="approve", workflow_step="1")
    assert "at step 2" in stale.content.decode()
    assert ApprovalDecision.objects.filter(task=task).count() == 1
    task.refresh_from_db()
    assert task.status == "awaiting_approval"


def test_a_steps_reviewer_comments_on_the_draft_at_their_step_and_not_before(
    two_steps, editor, lawyer
):
    task = drafted(category=CATEGORY)
    quote = task_result(task)["title"]
    with pytest.raises(NotFound):  # not their step yet: they may not even read it
        comment_add(task_id=task.pk, author=lawyer, quote=quote, body="Check this claim.")
    approve(task, editor)
    comment = comment_add(task_id=task.pk, author=lawyer, quote=quote, body="Check this claim.")
    assert comment.author == lawyer
    comment_resolve(task_id=task.pk, comment_id=comment.pk, user=editor)
