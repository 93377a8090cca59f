"""Cover images: a draft's is for its owner and editors only; a published post's is
public. And the API docs load nothing from outside the site."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from approvals.services import approval_decide
from tasks.runner import run_pipeline
from tasks.selectors import task_result

from ..conftest import client_for
from ..factories import UserFactory
from ..tasks.factories import ContentTaskFactory

# The writing is not what these tests are about: QuickWriter writes (tests/fakes.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_writer")]


@pytest.fixture
def drafted_task():
    task = ContentTaskFactory(topic="Covers that nobody should see yet")
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    return task


def test_a_drafts_cover_is_served_only_to_its_owner_and_editors(drafted_task, editor):
    url = task_result(drafted_task)["image_url"]
    assert re.fullmatch(rf"/media/covers/{drafted_task.pk}-g1\.png", url)

    assert Client().get(url).status_code == 404
    assert client_for(UserFactory()).get(url).status_code == 404  # another integrator
    staff_without_role = Client()
    staff_without_role.force_login(UserFactory(is_staff=True))
    assert staff_without_role.get(url).status_code == 404

    owner = client_for(drafted_task.created_by).get(url)
    assert owner.status_code == 200
    assert owner["Content-Type"] == "image/png"
    assert owner["Cache-Control"] == "private, no-store"
    browser = Client()
    browser.force_login(editor)
    assert browser.get(url).status_code == 200


def test_a_cover_becomes_public_when_its_post_is_published(drafted_task, editor):
    url = task_result(drafted_task)["image_url"]
    _, post = approval_decide(task_id=drafted_task.pk, reviewer=editor, approved=True)
    assert post.image_url == url
    response = Client().get(url)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("public")


def test_a_scheduled_posts_cover_stays_private_until_its_time(drafted_task, editor):
    url = task_result(drafted_task)["image_url"]
    later = timezone.now() + timedelta(days=1)
    approval_decide(task_id=drafted_task.pk, reviewer=editor, approved=True, publish_at=later)
    assert Client().get(url).status_code == 404


def test_a_guessed_cover_of_an_unknown_task_is_a_404(client):
    assert client.get("/media/covers/00000000-0000-0000-0000-000000000000-g1.png").status_code == (
        404
    )
    assert client.get("/media/secret.txt").status_code == 404


def test_the_api_docs_load_only_the_sites_own_static_files(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html
    assert not [a for a in assets if "//" in a], assets  # nothing from another host
    for asset in assets:
        if asset.startswith("/static/"):
            assert client.get(asset).status_code == 200, asset
    assert any("swagger-ui-bundle" in a for a in assets)


def test_who_may_see_a_cover_is_remembered_per_user_in_the_user_tier(drafted_task, monkeypatch):
    from contentpipeline import cache as app_cache

    monkeypatch.setattr(app_cache, "STATS_FLUSH_SECONDS", 0.0)
    monkeypatch.setitem(app_cache._state, "counts", {"hits": 0, "misses": 0})
    url = task_result(drafted_task)["image_url"]
    owner = client_for(drafted_task.created_by)
    before = app_cache.cache_stats()
    assert owner.get(url).status_code == 200
    assert owner.get(url).status_code == 200
    after = app_cache.cache_stats()
    assert (after["misses"] - before["misses"], after["hits"] - before["hits"]) == (1, 1)
    # Another user's answer is their own: not the owner's remembered "private".
    assert client_for(UserFactory()).get(url).status_code == 404
