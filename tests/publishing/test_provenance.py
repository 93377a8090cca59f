"""Provenance readers and integrators can see: the Sources list, the note and the meta
tags of the post page, and the API's `sources` and `provenance`."""

import re
from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from approvals.models import ApprovalDecision
from approvals.services import approval_decide, post_edit
from publishing.models import Post
from tasks.models import StageRun
from tasks.pipeline.text import APPROVED_FIELDS, content_hash
from tasks.runner import run_pipeline
from tasks.selectors import task_content_hash, task_models_used

from ..factories import UserFactory
from ..tasks.factories import ContentTaskFactory
from .factories import PostFactory

# The writing is not what these tests are about: QuickWriter writes (tests/fakes.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_writer")]

SOURCES = [
    {"n": 1, "url": "https://example.org/acme-history", "title": "Acme: a history",
     "fetched_at": "2026-11-02T09:30:00+00:00"},
    {"n": 2, "url": "http://example.net/soil?a=1&b=<2>", "title": "Soil <b>notes</b>",
     "fetched_at": "2026-11-03T10:00:00+00:00"},
]  # fmt: skip


def drafted(**kwargs):
    task = ContentTaskFactory(**kwargs)
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    return task


def model_written_post(**kwargs) -> Post:
    """A live post from a task, with the provenance an approval gives it."""
    fields = {
        "title": "How Acme began",
        "task": ContentTaskFactory(status="published"),
        "models_used": ["gpt-4.1", "offline-cover-1"],
        "sources": SOURCES,
        "approved_at": timezone.now() - timedelta(days=3),
        "approved_by_role": "editor",
        **kwargs,
    }
    post = PostFactory(**fields)
    Post.objects.filter(pk=post.pk).update(
        approved_hash=content_hash({name: getattr(post, name) for name in APPROVED_FIELDS})
    )
    post.refresh_from_db()
    return post


def meta(html: str, name: str) -> str | None:
    found = re.search(rf'<meta name="{name}" content="([^"]*)">', html)
    return found.group(1) if found else None


def test_a_post_page_ends_with_its_sources_each_linked_by_its_number(client):
    post = model_written_post()
    html = client.get(f"/posts/{post.slug}/").content.decode()
    sources = html[html.index('<section class="sources"') :]
    assert "<h2" in sources and ">Sources</h2>" in sources and "<ol" in sources
    first = re.search(r'<li id="source-1"[^>]*>(.*?)</li>', sources, re.S).group(1)
    assert '<a href="https://example.org/acme-history" rel="nofollow noopener noreferrer">' in first
    assert "Acme: a history</a>" in first and "2 November 2026" in first
    second = re.search(r'<li id="source-2"[^>]*>(.*?)</li>', sources, re.S).group(1)
    # Escaped, in the link and in its text.
    assert 'href="http://example.net/soil?a=1&amp;b=&lt;2&gt;"' in second
    assert "Soil &lt;b&gt;notes&lt;/b&gt;" in second and "<b>" not in second
    assert html.index('id="source-1"') < html.index('id="source-2"')


def test_a_stored_source_that_is_not_http_is_never_linked(client):
    post = model_written_post(
        sources=[
            {"n": 1, "url": "javascript:alert(1)", "title": "Click", "fetched_at": None},
            {"n": 2, "url": "https://example.org/ok", "title": "Fine", "fetched_at": None},
        ]
    )
    html = client.get(f"/posts/{post.slug}/").content.decode()
    assert "javascript:" not in html and 'id="source-1"' not in html
    assert 'id="source-2"' in html and 'href="https://example.org/ok"' in html
    assert meta(html, "ai-disclosure") is not None


def test_a_post_page_says_which_models_wrote_it_and_when_an_editor_approved_it(client):
    approved = timezone.now().replace(year=2026, month=11, day=20, hour=12)
    post = model_written_post(approved_at=approved)
    html = client.get(f"/posts/{post.slug}/").content.decode()
    note = re.search(r'<p class="provenance[^"]*"[^>]*>(.*?)</p>', html, re.S).group(1)
    text = " ".join(re.sub(r"<[^>]+>", "", note).split())
    assert text == (
        "Written with gpt-4.1, offline-cover-1 from 2 sources; "
        "approved by an editor on 20 November 2026."
    )
    assert meta(html, "ai-disclosure") == "ai-generated; edited and approved by a human editor"
    assert meta(html, "ai-models") == "gpt-4.1, offline-cover-1"
    assert datetime.fromisoformat(meta(html, "ai-approved-at")) == approved
    assert meta(html, "ai-content-hash") == f"sha256:{post.approved_hash}"


def test_a_post_written_in_the_admin_says_nothing_of_a_model(client):
    post = PostFactory(title="Written by hand")
    html = client.get(f"/posts/{post.slug}/").content.decode()
    assert 'class="provenance' not in html and "Written with" not in html
    assert 'name="ai-' not in html and 'class="sources"' not in html
    body = client.get(f"/api/posts/{post.slug}").json()
    assert body["sources"] == []
    assert body["provenance"] == {
        "models": [], "sources": 0, "approved_at": None, "approved_by_role": "",
        "content_hash": content_hash(body | {"body_markdown": post.body_markdown}),
        "matches_approved": None,
    }  # fmt: skip


def test_approving_a_draft_gives_its_post_the_decisions_provenance(editor):
    task = drafted(topic="Beekeeping for complete beginners")
    approved_text = task_content_hash(task)
    _, post = approval_decide(task_id=task.pk, reviewer=editor, approved=True)
    decision = ApprovalDecision.objects.get(task=task)
    post.refresh_from_db()
    assert post.approved_at == decision.created_at
    assert post.approved_by_role == "editor"
    assert post.approved_hash == approved_text == decision.content_hash
    assert post.models_used == task_models_used(task) and post.models_used


def test_a_superuser_approves_as_an_editor():
    task = drafted(topic="Beekeeping in a city garden")
    admin = UserFactory(is_superuser=True)
    _, post = approval_decide(task_id=task.pk, reviewer=admin, approved=True)
    assert Post.objects.get(pk=post.pk).approved_by_role == "editor"


def test_the_post_keeps_the_numbered_sources_its_draft_cites(editor, client):
    task = drafted(topic="The early years of Acme")
    research = StageRun.objects.get(task=task, stage="research", status="succeeded")
    cited = [{**source, "ok": True, "text": "Acme was founded in 1998."} for source in SOURCES]
    research.output = {**research.output, "sources": cited}
    research.save(update_fields=["output"])
    _, post = approval_decide(task_id=task.pk, reviewer=editor, approved=True)
    assert Post.objects.get(pk=post.pk).sources == SOURCES
    body = client.get(f"/api/posts/{post.slug}").json()
    assert body["sources"] == SOURCES and body["provenance"]["sources"] == 2


def test_the_api_says_whether_the_live_text_is_still_the_approved_one(
    editor, django_capture_on_commit_callbacks
):
    task = drafted(topic="Keeping bees through the winter")
    _, post = approval_decide(task_id=task.pk, reviewer=editor, approved=True)
    decision = ApprovalDecision.objects.get(task=task)
    reader = Client()
    body = reader.get(f"/api/posts/{post.slug}").json()
    provenance = body["provenance"]
    assert provenance["matches_approved"] is True
    assert provenance["content_hash"] == decision.content_hash
    assert provenance["approved_by_role"] == "editor" and provenance["models"]
    assert provenance["approved_at"].startswith(decision.created_at.date().isoformat())
    page = reader.get(f"/posts/{post.slug}/").content.decode()
    assert meta(page, "ai-content-hash") == f"sha256:{decision.content_hash}"

    # An editor changes the live post: the API says it is no longer the approved text,
    # and the page (its cache purged by the change) carries the new text's hash.
    live = Post.objects.get(pk=post.pk)
    live.body_markdown += "\n\nA paragraph nobody approved."
    with django_capture_on_commit_callbacks(execute=True):
        assert post_edit(post=live, user=editor, reason="added a paragraph") is not None
    provenance = reader.get(f"/api/posts/{post.slug}").json()["provenance"]
    assert provenance["matches_approved"] is False
    assert provenance["content_hash"] != decision.content_hash
    page = reader.get(f"/posts/{post.slug}/").content.decode()
    assert meta(page, "ai-content-hash") == f"sha256:{provenance['content_hash']}"


def test_a_post_approved_again_after_its_approval_reopened_has_the_new_approval(editor):
    task = drafted(topic="Choosing a hive for the first season")
    later = timezone.now() + timedelta(days=2)
    _, first = approval_decide(task_id=task.pk, reviewer=editor, approved=True, publish_at=later)
    first_hash = Post.objects.get(pk=first.pk).approved_hash
    scheduled = Post.objects.get(pk=first.pk)
    scheduled.title = "Choosing your first hive"
    assert post_edit(post=scheduled, user=editor) is None  # withdrawn, awaiting approval
    second_editor = UserFactory(editor=True)
    _, second = approval_decide(task_id=task.pk, reviewer=second_editor, approved=True)
    decision = ApprovalDecision.objects.filter(task=task).order_by("-round").first()
    assert decision.round == 2
    second.refresh_from_db()
    assert second.title == "Choosing your first hive"
    assert second.approved_at == decision.created_at
    assert second.approved_hash == decision.content_hash != first_hash
    body = Client().get(f"/api/posts/{second.slug}").json()["provenance"]
    assert body["matches_approved"] is True and body["content_hash"] == decision.content_hash
