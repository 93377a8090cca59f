"""Not writing the same post twice: POST /api/tasks answers with the published posts
and open tasks on the same subject, and with `on_overlap: reject` creates nothing."""

import io

import pytest
from django.core.management import CommandError, call_command

from tasks.interfaces import no_post_overlaps, post_overlaps, provide_post_overlaps
from tasks.models import ContentTask

from ..factories import UserFactory
from ..publishing.factories import PostFactory
from .factories import ContentTaskFactory

pytestmark = pytest.mark.django_db


def create(client, **body):
    return client.post("/api/tasks", body, format="json")


@pytest.fixture
def subjects(integrator):
    """A published post and an open task on composting, and others on other things."""
    return {
        "post": PostFactory(
            title="Composting at home: a beginner's guide",
            body_markdown="Kitchen scraps, leaves and patience.",
            tags=["garden"],
        ),
        "unrelated_post": PostFactory(
            title="Keeping bees through a cold winter",
            # Its body mentions the subject: a body alone does not make an overlap.
            body_markdown="Beekeepers who compost at home for beginners...",
        ),
        "task": ContentTaskFactory(
            created_by=integrator,
            topic="Why healthy soil feeds a garden",
            primary_keyword="Soil  Health",
            status="pending",
        ),  # fmt: skip
        "unrelated_task": ContentTaskFactory(
            created_by=integrator,
            topic="Choosing a first beehive",
            primary_keyword="beehives",
            status="in_progress",
        ),  # fmt: skip
        "finished_task": ContentTaskFactory(
            created_by=integrator,
            topic="Composting at home for beginners",
            primary_keyword="soil health",
            status="published",
        ),  # fmt: skip
    }


def test_a_new_task_is_told_of_the_post_and_the_open_task_on_its_subject(
    integrator_client, subjects
):
    response = create(
        integrator_client, topic="A beginner's guide to composting at home",
        primary_keyword="soil health",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    overlaps = response.json()["overlaps"]
    post, task = subjects["post"], subjects["task"]
    assert overlaps == [
        {"kind": "post", "title": post.title, "reason": "similar topic",
         "url": f"http://testserver/posts/{post.slug}/"},
        {"kind": "task", "title": task.topic, "reason": "same primary keyword",
         "id": str(task.pk), "status": "pending"},
    ]  # fmt: skip
    assert ContentTask.objects.filter(topic__startswith="A beginner's").count() == 1


def test_an_open_task_on_a_similar_topic_overlaps_and_one_on_another_does_not(
    integrator_client, subjects
):
    response = create(integrator_client, topic="How healthy soil feeds the garden")
    kinds = {(o["kind"], o.get("id"), o["reason"]) for o in response.json()["overlaps"]}
    assert kinds == {("task", str(subjects["task"].pk), "similar topic")}


def test_a_shared_number_and_a_common_word_are_no_shared_subject(integrator_client, db):
    kites = create(integrator_client, topic="Unrelated subject number 1 about kites")
    assert kites.status_code == 201
    lanterns = create(integrator_client, topic="Other subject 1 on lanterns", on_overlap="reject")
    assert lanterns.status_code == 201, lanterns.json()
    again = create(integrator_client, topic="Kites: subject number 2")
    assert [o["title"] for o in again.json()["overlaps"]] == [kites.json()["topic"]]


def test_a_post_whose_title_or_tags_hold_the_primary_keyword_is_the_same_keyword(
    integrator_client, db
):
    post = PostFactory(title="Feeding the ground", tags=["Soil health", "garden"])
    response = create(
        integrator_client, topic="Earthworms and what they do", keywords=["soil health"]
    )
    assert response.json()["overlaps"] == [
        {"kind": "post", "title": post.title, "reason": "same primary keyword",
         "url": f"http://testserver/posts/{post.slug}/"},
    ]  # fmt: skip


def test_another_integrators_task_is_not_shown_to_an_integrator_but_to_an_editor(
    integrator_client, editor_client, db
):
    theirs = ContentTaskFactory(
        created_by=UserFactory(), topic="Pruning apple trees in late winter",
        primary_keyword="pruning", status="awaiting_approval",
    )  # fmt: skip
    body = {"topic": "When to prune apple trees", "primary_keyword": "pruning"}
    seen = create(editor_client, **body).json()["overlaps"]
    assert [(o["kind"], o["id"]) for o in seen] == [("task", str(theirs.pk))]
    # Neither theirs nor the editor's task just made is the integrator's to read.
    assert create(integrator_client, **body).json()["overlaps"] == []


def test_on_overlap_reject_answers_409_with_the_overlaps_and_creates_nothing(
    integrator_client, subjects
):
    before = ContentTask.objects.count()
    response = create(
        integrator_client, topic="Composting at home, a guide for beginners",
        on_overlap="reject",
    )  # fmt: skip
    assert response.status_code == 409, response.content
    body = response.json()
    assert "nothing was created" in body["detail"]
    assert [o["kind"] for o in body["overlaps"]] == ["post"]
    assert ContentTask.objects.count() == before
    # Nothing overlapping: created as usual.
    response = create(integrator_client, topic="Restoring an old oak table", on_overlap="reject")
    assert response.status_code == 201 and response.json()["overlaps"] == []
    assert ContentTask.objects.count() == before + 1


def test_an_unknown_on_overlap_is_a_field_error(integrator_client, db):
    response = create(integrator_client, topic="Anything at all", on_overlap="merge")
    assert response.status_code == 400 and "on_overlap" in response.json()


@pytest.mark.parametrize(
    "topic",
    [
        "!?.,;:'\"()[]{}<>|&*-_=+/\\~`^%$#@" * 9 + "!?.",  # 300 characters of punctuation
        "'; DROP TABLE tasks_contenttask; --",
        "compost:* & !soil | (garden <-> 'x') <2> y:AB",
        "o'reilly \\' \\\\ ''' :: & | !",
        "ü" * 300,
    ],
)
def test_a_topic_of_punctuation_or_query_syntax_gets_an_answer_not_an_error(
    integrator_client, subjects, topic
):
    response = create(integrator_client, topic=topic[:300], primary_keyword=topic[:100],
                      on_overlap="reject")  # fmt: skip
    assert response.status_code in (201, 409), response.content
    assert isinstance(response.json()["overlaps"], list)


def test_overlaps_still_answer_when_publishing_provided_no_post_search(integrator_client, subjects):
    provided = post_overlaps()
    provide_post_overlaps(no_post_overlaps)
    try:
        response = create(
            integrator_client, topic="A beginner's guide to composting at home",
            primary_keyword="soil health",
        )  # fmt: skip
    finally:
        provide_post_overlaps(provided)
    assert response.status_code == 201
    assert [o["kind"] for o in response.json()["overlaps"]] == ["task"]


def test_publishing_provides_the_post_search_at_start_up():
    from publishing.selectors import post_overlaps_for_subject

    assert post_overlaps() is post_overlaps_for_subject


def test_the_submit_command_names_the_overlaps_and_rejects_on_request(integrator, subjects):
    stdout, stderr = io.StringIO(), io.StringIO()
    topic = "A beginner's guide to composting at home"
    call_command("submit", "--topic", topic, "--as", integrator.username,
                 stdout=stdout, stderr=stderr)  # fmt: skip
    assert ContentTask.objects.filter(pk=stdout.getvalue().strip()).exists()
    assert f"overlaps post /posts/{subjects['post'].slug}/ (similar topic)" in stderr.getvalue()
    before = ContentTask.objects.count()
    with pytest.raises(CommandError, match="nothing was created"):
        call_command("submit", "--topic", topic, "--as", integrator.username,
                     "--on-overlap", "reject", stdout=io.StringIO())  # fmt: skip
    assert ContentTask.objects.count() == before
