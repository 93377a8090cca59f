"""Published posts offered to the research stage as internal links: publishing's own
search, which publishing provides to the pipeline at start-up as its RelatedPosts."""

import logging
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from publishing.selectors import related_posts_for_brief
from tasks.pipeline.providers import Brief
from tasks.pipeline.stages import research as research_stage
from tasks.runner import job_for

from ..tasks.factories import ContentTaskFactory
from .factories import PostFactory

pytestmark = pytest.mark.django_db

BRIEF = Brief(task_type="blog_post", topic="Rain barrels for city gardens", keywords=("downspout",))
FILLER = "Seasonal chores fill the weekend: sweeping the path and sorting seed packets."


def make_post(title: str, body: str = FILLER, *, minutes_ago: int = 10, **kwargs):
    published_at = timezone.now() - timedelta(minutes=minutes_ago)
    return PostFactory(title=title, body_markdown=body, published_at=published_at, **kwargs)


def test_published_posts_on_the_topic_come_first_then_those_on_its_keywords():
    keyword_post = make_post("Choosing a diverter", "Fit it to the downspout.", minutes_ago=1)
    topic_post = make_post("Rain barrels in city gardens, a guide", minutes_ago=50)
    make_post("Pruning apple trees")

    links = related_posts_for_brief(BRIEF)

    assert links == [
        {"title": topic_post.title, "url": f"/posts/{topic_post.slug}/"},
        {"title": keyword_post.title, "url": keyword_post.get_absolute_url()},
    ]


def test_scheduled_and_unpublished_posts_are_never_offered():
    live = make_post("Rain barrels for city gardens")
    make_post("Rain barrels for city gardens next month", minutes_ago=-60 * 24)
    make_post("Rain barrels for city gardens, withdrawn", unpublished_at=timezone.now())
    make_post("Downspout rain barrels for city gardens, withdrawn", unpublished_at=timezone.now())

    links = related_posts_for_brief(BRIEF)

    assert links == [{"title": live.title, "url": f"/posts/{live.slug}/"}]


def test_at_most_five_posts_are_offered():
    for n in range(8):
        make_post(f"Rain barrels for city gardens, part {n}", minutes_ago=n + 1)

    links = related_posts_for_brief(BRIEF)

    assert len(links) == 5
    assert all(
        link["url"].startswith("/posts/rain-barrels-for-city-gardens-part-") for link in links
    )


def test_no_matching_post_offers_nothing():
    make_post("Pruning apple trees")

    assert related_posts_for_brief(BRIEF) == []


def test_a_failing_search_is_logged_and_offers_nothing(caplog):
    make_post("Rain barrels for city gardens")
    with transaction.atomic():
        # A broken query leaves the transaction aborted: every later query fails.
        with pytest.raises(DatabaseError), connection.cursor() as cursor:
            cursor.execute("SELECT no_such_column FROM publishing_post")
        with caplog.at_level(logging.ERROR, logger="publishing.selectors"):
            links = related_posts_for_brief(BRIEF)
        transaction.set_rollback(True)

    assert links == []
    assert "Searching posts related to 'Rain barrels for city gardens' failed" in caplog.text


def test_the_research_stage_records_the_posts_publishing_provided_through_the_runner():
    post = make_post("Rain barrels for city gardens")
    make_post("Rain barrels for city gardens, withdrawn", unpublished_at=timezone.now())
    task = ContentTaskFactory(topic=BRIEF.topic, keywords=list(BRIEF.keywords))

    # The job as the runner makes it: with what publishing provided at start-up.
    job = job_for(task)
    output = research_stage.run(job, {})

    assert output.data["internal_links"] == [{"title": post.title, "url": f"/posts/{post.slug}/"}]
    assert f"[{post.title}](/posts/{post.slug}/)" in research_stage.research_notes(output.data)
