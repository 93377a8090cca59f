import pytest

from contentpipeline.pipeline import run_pipeline
from tasks.models import PIPELINE_STAGES, StageRun
from tasks.selectors import task_result

from ..factories import ContentTaskFactory

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
