"""Past MAX_RANKED matches, `post_search` ranks the newest ones, looked for span by span
of recent time, each span walked post by post or read through the GIN index. Whichever
way, the posts ranked must be exactly the newest matches: these tests shrink
MAX_RANKED and gather the table's statistics (which the choice of way reads)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from publishing import search as search_module
from publishing.search import post_search

from .test_search import FILLER, make_post

pytestmark = pytest.mark.django_db

RANKED = 3


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE publishing_post")


@pytest.fixture
def timeline(monkeypatch):
    """80 posts three minutes apart. Among the newest 40, the words of "compost heap"
    are apart or in the wrong order, or missing, but for one post with the phrase; in
    the older half every other post has the phrase. So the newest matches of the
    phrase are one recent post and two older ones, spans apart. Returns the slugs,
    newest first, by what the posts hold."""
    monkeypatch.setattr(search_module, "MAX_RANKED", RANKED)
    kinds = {"phrase": [], "apart": [], "reversed": [], "neither": []}
    bodies = {
        "phrase": f"{FILLER} Turn the compost heap every week.",
        "apart": f"{FILLER} A heap of leaves is not yet compost.",
        "reversed": f"{FILLER} Sort the heap compost bins.",
        "neither": FILLER,
    }
    for i in range(80):
        if i == 3:
            kind = "phrase"
        elif i < 40:
            kind = ("apart", "neither", "reversed", "neither")[i % 4]
        else:
            kind = ("phrase", "apart")[i % 2]
        post = make_post(f"Garden log {i:02d}", bodies[kind], minutes_ago=1 + i * 3)
        kinds[kind].append(post.slug)
    analyze()
    return kinds


@pytest.mark.parametrize("walk", [True, False], ids=["walked", "through-the-index"])
@pytest.mark.parametrize(
    ("query", "matching"),
    [
        ('"compost heap"', ("phrase",)),
        ("compost", ("phrase", "apart", "reversed")),
        ("compo", ("phrase", "apart", "reversed")),  # the prefix of a word being typed
        ("heap -compost", ()),
    ],
)
def test_the_posts_ranked_are_exactly_the_newest_matches(
    monkeypatch, timeline, walk, query, matching
):
    monkeypatch.setattr(search_module, "_walk_pays", lambda *args: walk)
    newest_first = sorted(
        (slug for kind in matching for slug in timeline[kind]),
        key=lambda slug: int(slug.rsplit("-", 1)[1]),
    )
    page = post_search(query=query, limit=RANKED)
    found = [result.slug for result in page.results]
    assert sorted(found) == sorted(newest_first[:RANKED])
    assert page.estimated == (len(newest_first) >= RANKED)
    best_first = [(-result.rank, -result.published_at.timestamp()) for result in page.results]
    assert best_first == sorted(best_first)


def candidate_queries(query: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        post_search(query=query)
    return [q["sql"] for q in queries if "ts_rank" in q["sql"]]


def test_a_word_in_most_posts_is_found_by_walking_the_newest_posts(timeline):
    # The GIN index would read the word's whole entry, 60 of the 80 posts, to rank 5.
    found = candidate_queries("compost")
    assert found and all("ts_match_vq" in sql and "@@" not in sql for sql in found)


def test_a_word_in_few_posts_is_found_through_the_index(monkeypatch, timeline):
    monkeypatch.setattr(search_module, "MAX_RANKED", 2)
    for i in range(4):
        make_post(f"Mulch notes {i}", f"{FILLER} Mulch the beds.", minutes_ago=500 + i)
    analyze()
    found = candidate_queries("mulch")
    assert found and all("@@" in sql and "ts_match_vq" not in sql for sql in found)


def test_the_total_of_a_phrase_is_estimated_from_the_phrase_not_its_words(timeline):
    # 21 posts have the phrase and 61 both its words; past RANKED matches the total is
    # PostgreSQL's estimate, here from its statistics of the posts' word pairs.
    page = post_search(query='"compost heap"', limit=RANKED)
    assert page.estimated
    assert abs(page.total - 21) < abs(page.total - 61)
