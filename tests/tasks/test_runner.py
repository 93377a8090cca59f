import pytest

from tasks.models import PIPELINE_STAGES, StageRun
from tasks.runner import run_pipeline
from tasks.selectors import task_result

from .factories import ContentTaskFactory
from .pipeline.providers.source_pages import PageServer

pytestmark = pytest.mark.django_db


def test_the_pipeline_runs_every_stage_and_awaits_approval():
    task = ContentTaskFactory(keywords=["compost", "mulch"], target_length=500)
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    assert task.status == "awaiting_approval" and task.stage == "done" and task.progress == 100
    assert task.started_at and task.completed_at
    runs = list(StageRun.objects.filter(task=task))
    assert [r.stage for r in runs] == list(PIPELINE_STAGES)
    assert all(r.status == "succeeded" and r.finished_at for r in runs)
    assert all(r.model for r in runs)
    result = task_result(task)
    assert result["title"] and "compost" in result["body_markdown"].lower()
    assert len(result["seo_title"]) <= 60 and len(result["meta_description"]) <= 160
    assert 0 <= result["quality_score"] <= 100 and len(result["tags"]) <= 10
    assert result["image_url"].startswith("/media/covers/")


def test_running_a_finished_task_again_does_nothing():
    task = ContentTaskFactory()
    run_pipeline(task.pk)
    assert run_pipeline(task.pk) == "skipped"
    assert StageRun.objects.filter(task=task).count() == len(PIPELINE_STAGES)


def test_a_task_without_an_image_skips_the_image_stage():
    task = ContentTaskFactory(generate_image=False)
    run_pipeline(task.pk)
    image = StageRun.objects.get(task=task, stage="image")
    assert image.status == "skipped"
    task.refresh_from_db()
    assert task_result(task)["image_url"] == ""


def test_a_cancelled_task_is_not_run():
    task = ContentTaskFactory(status="cancelled")
    assert run_pipeline(task.pk) == "skipped"
    assert not StageRun.objects.filter(task=task).exists()


def test_a_resumed_run_keeps_finished_stage_outputs():
    task = ContentTaskFactory()
    run_pipeline(task.pk)
    research = StageRun.objects.get(task=task, stage="research")
    # Simulate a run lost after research: later outputs gone, task pending again.
    StageRun.objects.filter(task=task).exclude(stage="research").delete()
    task.refresh_from_db()
    task.status, task.stage, task.progress = "pending", "draft", 20
    task.save()
    assert run_pipeline(task.pk) == "done"
    assert StageRun.objects.get(task=task, stage="research").pk == research.pk
    assert StageRun.objects.filter(task=task).count() == len(PIPELINE_STAGES)


def leave_a_lost_run(task, stage: str, *, seconds_ago: int = 600) -> None:
    """What a run whose worker was SIGKILLed (or hit the hard time limit) leaves behind:
    the task in progress under its lease, a stale heartbeat, the stage attempt running."""
    import uuid
    from datetime import timedelta

    from django.utils import timezone

    from tasks.models import ContentTask

    then = timezone.now() - timedelta(seconds=seconds_ago)
    attempt = StageRun.objects.filter(task=task, stage=stage).count() + 1
    StageRun.objects.create(task=task, generation=task.generation, stage=stage,
                            attempt=attempt, started_at=then)  # fmt: skip
    ContentTask.objects.filter(pk=task.pk).update(
        status="in_progress", stage=stage, lease_id=uuid.uuid4(), heartbeat_at=then
    )


def test_after_three_lost_runs_in_one_stage_the_task_fails_and_is_not_sent_again(settings):
    from tasks.tasks import dispatch_waiting_tasks

    settings.PIPELINE_MAX_LOST_RUNS = 3
    task = ContentTaskFactory()
    leave_a_lost_run(task, "research")
    for lost in (1, 2):
        # Each takeover records the lost attempt; then this run is lost too.
        claimed = _claim_only(task)
        assert claimed.status == "in_progress" and claimed.lost_runs == lost
        leave_a_lost_run(task, "research")
    assert run_pipeline(task.pk) == "skipped"
    task.refresh_from_db()
    assert task.status == "failed"
    assert "Stage research was lost 3 times" in task.error
    attempts = StageRun.objects.filter(task=task, stage="research").order_by("attempt")
    assert [(a.status, a.error.startswith("Lost")) for a in attempts] == [("failed", True)] * 3
    assert dispatch_waiting_tasks() == 0
    assert run_pipeline(task.pk) == "skipped"


def _claim_only(task):
    from tasks.models import ContentTask
    from tasks.services import task_claim

    assert task_claim(task_id=task.pk) is not None
    return ContentTask.objects.get(pk=task.pk)


def test_lost_runs_count_only_while_no_stage_finishes(settings):
    settings.PIPELINE_MAX_LOST_RUNS = 2
    task = ContentTaskFactory()
    leave_a_lost_run(task, "research")
    assert _claim_only(task).lost_runs == 1
    # This run finishes research, then dies in draft: a new stage, a fresh count.
    from tasks.models import ContentTask
    from tasks.services.runs import STAGE_PROGRESS

    StageRun.objects.filter(task=task, status="running").update(status="failed")
    run = StageRun.objects.create(task=task, generation=1, stage="research", attempt=3,
                                  started_at=task.created_at, status="running")  # fmt: skip
    from tasks.services import task_stage_record

    task_stage_record(task_id=task.pk, stage_run=run, status="succeeded", output={"angle": "x"})
    assert ContentTask.objects.get(pk=task.pk).lost_runs == 0
    assert ContentTask.objects.get(pk=task.pk).progress == STAGE_PROGRESS["research"]
    leave_a_lost_run(task, "draft")
    assert _claim_only(task).lost_runs == 1  # not 2: the task goes on
    assert run_pipeline(task.pk) == "skipped"  # our own claim holds a live lease


def test_a_retried_task_gets_a_fresh_count_of_lost_runs(settings, integrator):
    from tasks.services import task_retry

    settings.PIPELINE_MAX_LOST_RUNS = 1
    task = ContentTaskFactory(created_by=integrator)
    leave_a_lost_run(task, "research")
    assert run_pipeline(task.pk) == "skipped"
    task.refresh_from_db()
    assert task.status == "failed"
    task_retry(user=integrator, task_id=task.pk)
    assert run_pipeline(task.pk) == "done"


def test_a_task_resumed_while_its_run_is_in_a_stage_is_not_run_twice(integrator):
    """Pause and resume land while the stage is in flight: the new message finds the
    live lease and leaves the task to the run, which takes it back between stages."""
    from tasks.services import task_pause, task_resume

    task = ContentTaskFactory(created_by=integrator)
    leave_a_lost_run(task, "research", seconds_ago=0)  # alive: heartbeat just now
    task_pause(user=integrator, task_id=task.pk)
    task_resume(user=integrator, task_id=task.pk)
    assert run_pipeline(task.pk) == "skipped"
    assert StageRun.objects.filter(task=task, stage="research").count() == 1


# --- A run message is a ticket for one run (in_turn) --------------------------------------


def test_a_message_serves_the_run_that_must_go_on_before_any_pending_task():
    from tasks.services import task_claim

    waiting = ContentTaskFactory()  # pending, and first in turn
    retrying = ContentTaskFactory(status="in_progress")  # a failed stage's retry: no lease
    assert task_claim(task_id=retrying.pk, in_turn=True).task == retrying
    # Sent again, the message finds the run alive and runs the next in turn instead.
    assert task_claim(task_id=retrying.pk, in_turn=True).task == waiting


def test_a_lost_run_is_taken_over_by_the_message_that_names_it():
    from tasks.models import ContentTask
    from tasks.services import task_claim

    ContentTaskFactory()  # pending, and first in turn
    lost = ContentTaskFactory()
    leave_a_lost_run(lost, "research")
    assert task_claim(task_id=lost.pk, in_turn=True).task == lost
    assert ContentTask.objects.get(pk=lost.pk).lost_runs == 1


def test_a_task_resumed_while_its_run_is_in_a_stage_is_left_to_it_and_the_next_one_runs(
    integrator,
):
    from tasks.models import ContentTask
    from tasks.services import task_pause, task_resume

    resumed = ContentTaskFactory(created_by=integrator)
    leave_a_lost_run(resumed, "research", seconds_ago=0)  # alive: heartbeat just now
    task_pause(user=integrator, task_id=resumed.pk)
    task_resume(user=integrator, task_id=resumed.pk)
    other = ContentTaskFactory()

    assert run_pipeline(resumed.pk, in_turn=True) == "done"

    assert ContentTask.objects.get(pk=other.pk).status == "awaiting_approval"
    assert ContentTask.objects.get(pk=resumed.pk).status == "pending"
    assert StageRun.objects.filter(task=resumed, stage="research").count() == 1


def test_a_task_whose_runs_keep_being_lost_is_failed_and_its_message_runs_the_next(settings):
    from tasks.models import ContentTask
    from tasks.services import task_claim

    settings.PIPELINE_MAX_LOST_RUNS = 1
    lost = ContentTaskFactory()
    leave_a_lost_run(lost, "research")
    ContentTask.objects.filter(pk=lost.pk).update(status="pending")  # paused and resumed
    waiting = ContentTaskFactory()

    assert task_claim(task_id=waiting.pk, in_turn=True).task == waiting
    assert ContentTask.objects.get(pk=lost.pk).status == "failed"


def test_an_offline_task_with_sources_is_drafted_from_them_and_every_claim_checks_out(
    settings,
):
    settings.SOURCES_ALLOW_PRIVATE = True  # the pages are served on loopback
    with PageServer() as pages:
        urls = [pages.url(path) for path in ("/barrels", "/history", "/care")]
        task = ContentTaskFactory(
            topic="Rain barrels for city gardens", keywords=["rain barrel"], target_length=800,
            sources=urls, generate_image=False,
        )  # fmt: skip
        assert run_pipeline(task.pk) == "done"

    result = task_result(task)
    assert [(s["n"], s["url"]) for s in result["sources"]] == list(enumerate(urls, 1))
    claims = result["claims"]
    assert len(claims) >= 25
    assert {claim["verdict"] for claim in claims} == {"supported"}
    assert {claim["source"] for claim in claims} == {1, 2, 3}
    review = StageRun.objects.get(task=task, stage="review")
    assert review.output["claims_judged_by_model"] is False  # offline: no judge
