"""The review desk as an editor uses it, through the real admin views: the draft with
its stage log, edits that become versions, claims, bulk decisions, and a regenerated
draft beside the one before it."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from approvals.models import ApprovalDecision, ReviewClaim
from approvals.services import post_edit
from publishing.models import Post
from tasks.models import ContentTask, Draft
from tasks.pipeline.text import content_hash
from tasks.runner import run_pipeline
from tasks.selectors import task_result

from ..factories import UserFactory
from ..fakes import CHAT_PATH, DRAFT, FakeLLMServer, Reply, chat_completion
from ..tasks.factories import ContentTaskFactory
from .desk import bulk_decide, decide_at_desk

pytestmark = pytest.mark.django_db


def drafted(**kwargs) -> ContentTask:
    task = ContentTaskFactory(**kwargs)
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    return task


def desk_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def review_url(task) -> str:
    return reverse("admin:tasks_contenttask_review", args=[task.pk])


@pytest.fixture
def desk(editor) -> Client:
    return desk_for(editor)


def test_the_review_page_shows_the_draft_its_metadata_and_the_stage_log(desk):
    task = drafted(topic="Mulching vegetable beds in autumn")
    result = task_result(task)
    page = desk.get(review_url(task)).content.decode()
    assert result["title"] in page and result["image_url"] in page
    assert result["seo_title"] in page and result["meta_description"] in page
    assert f"{result['quality_score']}/100" in page
    for stage in ("research", "draft", "review", "image", "seo"):
        assert f"<td>{stage}</td>" in page
    assert "offline-writer-1" in page and "offline-image-1" in page


def test_an_edit_before_deciding_is_a_version_and_is_what_gets_approved(desk, editor):
    task = drafted(topic="Mulching vegetable beds in autumn")
    original = task_result(task)
    form = {
        "step": "edit",
        "title": "Mulch your beds before the frost",
        "excerpt": original["excerpt"],
        "body_markdown": original["body_markdown"] + "\n\nAn editor's closing line.",
        "seo_title": "Mulch before frost",
        "meta_description": original["meta_description"],
        "tags": "mulch, autumn, Mulch",
    }
    assert desk.post(review_url(task), form).status_code == 302
    assert desk.post(review_url(task), form).status_code == 302  # the same again: no version
    draft = Draft.objects.get(task=task)
    versions = list(draft.history.order_by("history_date"))
    assert [(v.history_user.username, v.history_change_reason) for v in versions] == [
        ("system", "written by the pipeline"),
        (editor.username, f"edited by {editor.username}"),
    ]
    assert draft.tags == ["mulch", "autumn"]
    assert "closing line" in draft.body_html

    decide_at_desk(desk, task, decision="approve")
    post = Post.objects.get(task=task)
    assert post.title == "Mulch your beds before the frost"
    assert post.body_markdown.endswith("An editor's closing line.")
    decision = ApprovalDecision.objects.get(task=task)
    assert decision.content_hash == content_hash(form | {"tags": ["mulch", "autumn"]})


@pytest.mark.parametrize(
    ("field", "value"),
    [("title", ""), ("seo_title", "x" * 61), ("body_markdown", "   "), ("title", "a\x00b")],
)
def test_a_bad_edit_changes_nothing(desk, field, value):
    task = drafted(topic="Mulching vegetable beds in autumn")
    before = task_result(task)
    form = {"step": "edit", **before, "tags": "", field: value}
    response = desk.post(review_url(task), form)
    assert response.status_code == 200  # the page again, the field's error on it
    assert list(response.context["edit_form"].errors) == [field]
    assert not Draft.objects.filter(task=task).exists()
    assert task_result(task) == before


def test_a_draft_not_awaiting_approval_cannot_be_edited(desk, editor):
    from contentpipeline.errors import InvalidTransition
    from tasks.services import task_draft_edit

    task = ContentTaskFactory(status="in_progress")
    with pytest.raises(InvalidTransition):
        task_draft_edit(task_id=task.pk, user=editor, title="Too early")


def test_a_claim_shows_in_the_queue_and_another_editor_takes_it_over_explicitly(desk, editor):
    task = drafted(topic="Pruning fruit trees")
    other = UserFactory(editor=True)
    other_desk = desk_for(other)
    desk.post(review_url(task), {"step": "claim"})
    queue = other_desk.get(reverse("admin:tasks_contenttask_changelist")).content.decode()
    assert f"being reviewed by {editor.username}" in queue

    page = other_desk.post(review_url(task), {"step": "claim"}, follow=True).content.decode()
    assert f"Being reviewed by {editor.username}" in page  # refused: still theirs
    assert ReviewClaim.objects.get(task=task).editor == editor

    other_desk.post(review_url(task), {"step": "take_over"})
    assert ReviewClaim.objects.get(task=task).editor == other
    decide_at_desk(other_desk, task, decision="approve")
    decision = ApprovalDecision.objects.get(task=task)
    assert decision.reviewer == other and decision.claimed_by == other
    assert not ReviewClaim.objects.filter(task=task).exists()


def test_a_decision_without_a_claim_records_nobody_as_its_holder(desk):
    task = drafted(topic="Pruning fruit trees")
    decide_at_desk(desk, task, decision="approve")
    assert ApprovalDecision.objects.get(task=task).claimed_by is None


def test_bulk_request_changes_decides_each_draft_alone_and_reports_each(desk):
    first = drafted(topic="Bulk one: raised beds")
    second = drafted(topic="Bulk two: cold frames")
    running = ContentTaskFactory(topic="Bulk three: still running", status="in_progress")
    response = bulk_decide(desk, "request_changes_selected", (first, second, running),
                           apply="1", feedback="Add a section on costs.")  # fmt: skip
    page = response.content.decode()
    assert "2 task(s) decided" in page
    assert "Bulk three: still running" in page and "in_progress" in page
    for task in (first, second):
        task.refresh_from_db()
        assert task.generation == 2 and task.feedback == "Add a section on costs."
        decision = ApprovalDecision.objects.get(task=task)
        assert decision.decision == "changes_requested" and decision.generation == 1
    assert not ApprovalDecision.objects.filter(task=running).exists()


def test_a_regenerated_draft_answers_the_feedback_and_is_shown_beside_the_one_before(desk):
    task = drafted(topic="Composting kitchen scraps")
    decide_at_desk(desk, task, decision="request_changes",
                   feedback="Explain how to keep rats away from the heap.")  # fmt: skip
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    before, after = task_result(task, 1), task_result(task)
    assert before["body_markdown"] != after["body_markdown"]
    assert "rats" in after["body_markdown"].lower() and "rats" not in before["body_markdown"]
    page = desk.get(review_url(task)).content.decode()
    assert "Previous generation" in page and 'class="diff"' in page
    assert "Explain how to keep rats away" in page


def test_editing_a_scheduled_posts_text_sends_it_back_to_approval(desk, editor):
    task = drafted(topic="Planting garlic in October")
    later = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    decide_at_desk(desk, task, decision="approve", publish_at=later)
    post = Post.objects.get(task=task)
    change = reverse("admin:publishing_post_change", args=[post.pk])
    form = {
        "slug": post.slug, "title": post.title, "excerpt": post.excerpt,
        "body_markdown": post.body_markdown + "\n\nA sentence nobody approved.",
        "image_url": post.image_url, "tags": ",".join(post.tags), "category": post.category,
        "seo_title": post.seo_title, "meta_description": post.meta_description,
        "published_at_0": post.published_at.strftime("%Y-%m-%d"),
        "published_at_1": post.published_at.strftime("%H:%M:%S"),
    }  # fmt: skip
    assert desk.post(change, form).status_code == 302
    task.refresh_from_db()
    assert task.status == "awaiting_approval"
    assert not Post.objects.filter(task=task).exists()
    assert task_result(task)["body_markdown"].endswith("A sentence nobody approved.")
    reasons = [h.history_change_reason for h in task.history.order_by("history_date")]
    assert reasons[-1] == f"approval re-opened: text changed by {editor.username}"

    decide_at_desk(desk, task, decision="approve")
    decisions = list(ApprovalDecision.objects.filter(task=task).order_by("round"))
    assert [d.round for d in decisions] == [1, 2]
    assert decisions[0].content_hash != decisions[1].content_hash
    assert Post.objects.get(task=task).body_markdown.endswith("A sentence nobody approved.")


def test_rescheduling_a_post_without_changing_its_text_keeps_it_approved(desk):
    task = drafted(topic="Planting garlic in October")
    later = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    decide_at_desk(desk, task, decision="approve", publish_at=later)
    post = Post.objects.get(task=task)
    post.published_at += timedelta(days=1)
    assert post_edit(post=post, user=None) is not None
    task.refresh_from_db()
    assert task.status == "approved"


def test_editing_a_live_post_does_not_reopen_approval(desk):
    task = drafted(topic="Planting garlic in October")
    decide_at_desk(desk, task, decision="approve")
    post = Post.objects.get(task=task)
    post.body_markdown += "\n\nA correction after publication."
    assert post_edit(post=post, user=None) is not None
    task.refresh_from_db()
    assert task.status == "published"


def test_the_review_page_shows_each_round_of_the_quality_loop_with_its_scores(desk, settings):
    dimensions = ("clarity", "accuracy", "completeness", "relevance", "seo", "readability",
                  "engagement")  # fmt: skip
    low = {"scores": dict.fromkeys(dimensions, 41), "quality_score": 41, "qa_feedback": "Thin",
           "issues": ["Only 90 words against 800"]}  # fmt: skip
    good = {**low, "scores": dict.fromkeys(dimensions, 88), "quality_score": 88, "issues": []}
    settings.QUALITY_THRESHOLD, settings.QUALITY_MAX_REFINEMENTS = 75, 1
    settings.LLM_MAX_RETRIES = 0
    with FakeLLMServer() as server:
        server.configure(settings)
        server.script(CHAT_PATH, Reply(chat_completion(json.dumps({"outline": ["Why"]}))),
                      Reply(chat_completion(DRAFT)), Reply(chat_completion(json.dumps(low))),
                      Reply(chat_completion("# Rain Barrels, Longer\n\nMore.\n\n## Why\n\nRain.")),
                      Reply(chat_completion(json.dumps(good))))  # fmt: skip
        task = drafted()
    page = desk.get(review_url(task)).content.decode()
    assert "rewritten with the critique 1 time(s)" in page
    assert "<td>1</td><td>41</td><td>41</td>" in page
    assert "<td>2</td><td>88</td><td>88</td>" in page
    assert "Only 90 words against 800" in page
    assert "Rain Barrels, Longer" in page  # the rewrite is the draft under review
    assert "<td>openai</td>" in page and "<td>3 (0)</td>" in page  # the review stage's calls
