"""Each stage attempt the runner records is one log line, once it is stored: what ran,
how it ended, how long it took, and what it used."""

import logging

import pytest

from tasks.models import PIPELINE_STAGES
from tasks.runner import run_pipeline
from tasks.services import task_claim

from .factories import ContentTaskFactory
from .test_runner import leave_a_lost_run

pytestmark = pytest.mark.django_db


def stage_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "tasks.stage_runs"]


def test_every_stage_run_is_one_line_with_outcome_duration_model_tokens_and_cost(
    caplog, django_capture_on_commit_callbacks
):
    task = ContentTaskFactory()
    with caplog.at_level(logging.INFO), django_capture_on_commit_callbacks(execute=True):
        assert run_pipeline(task.pk) == "done"
    records = stage_records(caplog)
    assert [(r.stage, r.outcome) for r in records] == [(s, "succeeded") for s in PIPELINE_STAGES]
    for record in records:
        assert record.event == "stage_run" and record.task_id == str(task.pk)
        assert record.levelno == logging.INFO and record.attempt == 1
        assert record.duration_ms >= 0 and record.model and record.provider == "offline"
        assert isinstance(record.cost, float) and record.error is None
    assert sum(r.tokens_out for r in records) > 0
    assert records[1].getMessage().startswith(f"Stage draft of task {task.pk} succeeded in ")


def test_nothing_is_logged_for_a_stage_whose_transaction_never_commits(caplog):
    task = ContentTaskFactory()
    with caplog.at_level(logging.INFO):
        run_pipeline(task.pk)  # inside the test's transaction, rolled back at its end
    assert stage_records(caplog) == []


def test_a_lost_run_taken_over_is_logged_as_lost(caplog, django_capture_on_commit_callbacks):
    task = ContentTaskFactory()
    leave_a_lost_run(task, "draft", seconds_ago=600)
    with caplog.at_level(logging.INFO), django_capture_on_commit_callbacks(execute=True):
        assert task_claim(task_id=task.pk) is not None
    (record,) = stage_records(caplog)
    assert (record.stage, record.outcome, record.levelno) == ("draft", "lost", logging.WARNING)
    assert 590_000 <= record.duration_ms <= 700_000
    assert record.error.startswith("Lost: ")
