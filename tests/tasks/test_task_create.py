"""task_create protects the data whoever calls it: the API, the admin or code."""

import pytest

from contentpipeline.errors import ApplicationError
from tasks.models import ContentTask
from tasks.services import MAX_KEYWORDS, task_create

pytestmark = pytest.mark.django_db


def test_keywords_are_stripped_and_repeats_dropped_case_insensitively(integrator):
    task = task_create(
        user=integrator,
        topic="Soil health for beginners",
        keywords=[" compost ", "Compost", "", "soil", "SOIL", "mulch"],
    )
    assert task.keywords == ["compost", "soil", "mulch"]
    assert task.primary_keyword == "compost"


def test_more_than_twenty_distinct_keywords_are_refused_and_nothing_is_stored(integrator):
    keywords = [f"keyword {n}" for n in range(MAX_KEYWORDS + 1)]
    with pytest.raises(ApplicationError, match="at most 20 keywords"):
        task_create(user=integrator, topic="Too many keywords", keywords=keywords)
    assert not ContentTask.objects.exists()


def test_twenty_keywords_with_repeats_beyond_them_are_accepted(integrator):
    keywords = [f"keyword {n}" for n in range(MAX_KEYWORDS)] * 2
    task = task_create(user=integrator, topic="Exactly twenty keywords", keywords=keywords)
    assert len(task.keywords) == MAX_KEYWORDS


@pytest.mark.parametrize(
    "fields",
    [
        {"topic": "Composting\x00 at home"},
        {"topic": "Composting at home", "keywords": ["com\x00post"]},
        {"topic": "Composting at home", "category": "\x00"},
        {"topic": "  a "},
    ],
)
def test_a_nul_byte_or_a_topic_too_short_is_refused(integrator, fields):
    with pytest.raises(ApplicationError):
        task_create(user=integrator, **fields)
    assert not ContentTask.objects.exists()
