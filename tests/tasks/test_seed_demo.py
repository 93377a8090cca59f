"""`make run`'s first-start set-up on a database that `migrate` has just made."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from contentpipeline.roles import is_editor, system_user
from tasks.models import ContentTask

pytestmark = pytest.mark.django_db


def test_a_fresh_database_gets_a_demo_editor_and_demo_tasks_once():
    system_user()  # what the migrations leave behind
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    editor = get_user_model().objects.get(username="editor")
    assert is_editor(editor) and "password" in out.getvalue()
    assert ContentTask.objects.filter(created_by=editor).count() == 3
    call_command("seed_demo", stdout=io.StringIO())
    assert ContentTask.objects.count() == 3


def test_a_site_with_its_own_users_gets_nothing_seeded(integrator):
    call_command("seed_demo", stdout=io.StringIO())
    assert not get_user_model().objects.filter(username="editor").exists()
    assert not ContentTask.objects.exists()


def test_a_first_start_with_a_paid_provider_submits_no_demo_task(settings):
    settings.LLM_CHAIN = ("openai", "offline")
    system_user()
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert get_user_model().objects.filter(username="editor").exists()
    assert not ContentTask.objects.exists()
    assert "openai" in out.getvalue()
