from datetime import timedelta

import pytest
from django.utils import timezone

from approvals.services import approval_decide
from publishing.models import Post
from tasks.runner import run_pipeline
from tasks.selectors import task_result

from ..tasks.factories import ContentTaskFactory
from .factories import PostFactory

# The writing is not what these tests are about: QuickWriter writes (tests/fakes.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_writer")]


def drafted(**kwargs):
    task = ContentTaskFactory(**kwargs)
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    return task


def make_post(title: str, minutes_ago: int = 0, **kwargs) -> Post:
    published_at = timezone.now() - timedelta(minutes=minutes_ago)
    return PostFactory(title=title, published_at=published_at, **kwargs)


def test_the_home_page_lists_published_posts_newest_first_and_paginates(client):
    for i in range(12):
        make_post(f"Post number {i:02d}", minutes_ago=i)
    page1 = client.get("/").content.decode()
    assert page1.index("Post number 00") < page1.index("Post number 09")
    assert "Post number 10" not in page1
    page2 = client.get("/?page=2").content.decode()
    assert "Post number 10" in page2 and "Post number 11" in page2


def test_a_draft_awaiting_approval_is_never_public(client, editor):
    task = drafted(topic="Secret draft about beekeeping in winter")
    title = task_result(task)["title"]
    assert title not in client.get("/").content.decode()
    assert client.get("/api/posts").json()["count"] == 0
    assert not Post.objects.exists()


def test_a_rejected_tasks_content_is_never_public(client, editor):
    task = drafted(topic="Rejected thoughts on beekeeping in winter")
    result = task_result(task)
    approval_decide(task_id=task.pk, reviewer=editor, approved=False, feedback="No")
    home = client.get("/").content.decode()
    assert result["title"] not in home
    assert client.get("/api/posts").json()["count"] == 0
    first_sentence = result["body_markdown"].split("\n\n")[0][:60]
    assert first_sentence not in home


def test_a_scheduled_post_is_hidden_until_its_time(client, editor):
    task = drafted(topic="Scheduled guide to beekeeping in spring")
    later = timezone.now() + timedelta(days=1)
    _, post = approval_decide(task_id=task.pk, reviewer=editor, approved=True, publish_at=later)
    task.refresh_from_db()
    assert task.status == "approved"
    assert client.get(f"/posts/{post.slug}/").status_code == 404
    assert client.get(f"/api/posts/{post.slug}").status_code == 404
    assert post.title not in client.get("/").content.decode()


def test_an_approved_post_shows_its_title_and_a_cover_that_loads(client, editor):
    task = drafted(topic="Beekeeping for complete beginners")
    _, post = approval_decide(task_id=task.pk, reviewer=editor, approved=True)
    page = client.get(f"/posts/{post.slug}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert post.title in html and f'src="{post.image_url}"' in html
    assert client.get(post.image_url).status_code == 200


def test_a_script_the_model_wrote_never_reaches_the_published_page(client, editor, settings):
    from ..fakes import CHAT_PATH, REPLIES, FakeLLMServer, Reply, chat_completion

    evil = (
        "# Rain barrels\n\nIntro.\n\n## Why\n\n<script>alert(1)</script>"
        '<img src=x onerror="alert(2)"> [click](javascript:alert(3)) Because it rains.'
    )
    with FakeLLMServer() as model:
        model.configure(settings)
        # The first call is research's, the second the draft's; review and seo get the
        # fake's usual answers.
        research = chat_completion(REPLIES["Research the brief"])
        model.script(CHAT_PATH, Reply(research), Reply(chat_completion(evil)))
        task = drafted(generate_image=False)
    _, post = approval_decide(task_id=task.pk, reviewer=editor, approved=True)
    html = client.get(f"/posts/{post.slug}/").content.decode()
    assert "Because it rains." in html
    article = html[html.index("<article") : html.index("</article>")]
    # What the model wrote as HTML is shown as text; nothing of it runs.
    assert "<script" not in article and "<img" not in article
    assert 'href="javascript:' not in article


def test_generated_html_is_sanitized_before_it_is_shown(client):
    from tasks.pipeline.rendering import render_markdown

    evil = "Hello <script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror=alert(3)>"
    html = render_markdown(evil)
    assert "<script" not in html and "<img" not in html and 'href="javascript:' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as the text it was


def test_an_unclosed_tag_in_a_keyword_does_not_swallow_the_rest_of_the_article():
    from tasks.pipeline.rendering import render_markdown

    html = render_markdown("Why <script matters.\n\n## Next\n\nThe rest of the article.")
    assert "The rest of the article." in html and "<h2>Next</h2>" in html
    assert "<script" not in html


def test_slugs_are_unique_for_equal_titles(editor):
    first = drafted(topic="Same topic for two posts about hives")
    second = drafted(topic="Same topic for two posts about hives")
    _, a = approval_decide(task_id=first.pk, reviewer=editor, approved=True)
    _, b = approval_decide(task_id=second.pk, reviewer=editor, approved=True)
    assert a.slug != b.slug and b.slug.startswith(a.slug)


def test_the_posts_api_lists_published_posts_and_one_by_slug(client):
    make_post("Older post", minutes_ago=10, tags=["bees"], category="Nature")
    make_post("Newer post", minutes_ago=1)
    body = client.get("/api/posts").json()
    assert [p["title"] for p in body["results"]] == ["Newer post", "Older post"]
    assert client.get("/api/posts?tag=bees").json()["count"] == 1
    assert client.get("/api/posts?category=nature").json()["count"] == 1
    one = client.get("/api/posts/older-post").json()
    assert one["title"] == "Older post" and one["url"].endswith("/posts/older-post/")
    assert client.get("/api/posts/missing").status_code == 404


def test_a_scheduled_post_goes_live_and_its_task_is_published_when_due(client, editor):
    from publishing.services import post_publish_due

    task = drafted(topic="Scheduled guide to beekeeping in autumn")
    later = timezone.now() + timedelta(hours=1)
    _, post = approval_decide(task_id=task.pk, reviewer=editor, approved=True, publish_at=later)
    assert post_publish_due() == 0
    Post.objects.filter(pk=post.pk).update(published_at=timezone.now() - timedelta(seconds=1))
    assert client.get(f"/posts/{post.slug}/").status_code == 200
    assert post_publish_due() == 1
    task.refresh_from_db()
    assert task.status == "published"


def test_editing_a_post_in_admin_sanitizes_it_and_keeps_a_version(client):
    from publishing.admin import PostAdmin  # noqa: F401 - registered with the admin site

    from ..factories import UserFactory

    post = make_post("Editable post")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post(
        f"/admin/publishing/post/{post.pk}/change/",
        {
            "slug": post.slug,
            "title": "Edited title",
            "excerpt": "",
            "body_markdown": "New **body** <script>alert(1)</script>",
            "tags": "",
            "category": "",
            "seo_title": "",
            "meta_description": "",
            "image_url": "",
            "published_at_0": post.published_at.strftime("%Y-%m-%d"),
            "published_at_1": post.published_at.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    post.refresh_from_db()
    assert post.title == "Edited title" and "<strong>body</strong>" in post.body_html
    assert "<script" not in post.body_html
    assert post.history.count() == 2


def test_a_slug_taken_between_check_and_insert_gets_another(editor, monkeypatch):
    from publishing import services

    task = drafted(topic="Racing for a slug about wasps")
    title = task_result(task)["title"]
    taken = make_post("Taken elsewhere")
    real = services.unique_slug
    calls = []

    def stale_check(text, **kwargs):
        calls.append(text)
        return taken.slug if len(calls) == 1 else real(text, **kwargs)

    monkeypatch.setattr(services, "unique_slug", stale_check)
    _, post = approval_decide(task_id=task.pk, reviewer=editor, approved=True)
    assert post.slug != taken.slug and post.slug.startswith(real(title)[:20])
