"""A query of quoted phrases is looked up through the index of the words side by side in
each post (`post_word_pairs`, migration 0006), then each post found is tested for the
phrase itself; any other query, through the index of the words."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from publishing.search import post_search

from .test_search import FILLER, make_post

pytestmark = pytest.mark.django_db


def word_pairs(text: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT publishing_word_pairs(to_tsvector('english', %s))", [text])
        return sorted(cursor.fetchone()[0])


def test_the_pairs_are_the_lexemes_side_by_side():
    # 'the' is a stop word: it keeps its place, so 'turn' and 'compost' are not side by side.
    assert word_pairs("Turn the compost heap weekly") == ["compost heap", "heap week"]
    assert word_pairs("state of the art") == []


def searched_with_pairs(query: str) -> bool:
    with CaptureQueriesContext(connection) as queries:
        post_search(query=query)
    candidates = [q["sql"] for q in queries if "ts_rank" in q["sql"]]
    assert candidates
    return all("publishing_word_pairs" in sql for sql in candidates)


@pytest.mark.parametrize(
    ("query", "pairs"),
    [
        ('"compost heap"', True),
        ('"compost heap" "every week"', True),
        ('"compost heap" weekly', False),  # the word is not in the pairs
        ('"compost heap" or roses', False),
        ('-"compost heap" leaves', False),
        ('"compost heap', False),  # an open quote
        ('"compost, heap"', False),  # not plain words: as websearch reads them, not us
    ],
)
def test_only_a_query_of_phrases_is_looked_up_by_its_word_pairs(query, pairs):
    make_post("Heaps", f"{FILLER} Turn the compost heap every week. Leaves and roses.")
    assert searched_with_pairs(query) is pairs


def test_a_phrase_is_found_only_with_its_words_side_by_side_in_order():
    together = make_post("Heaps", "Turn the compost heap every week.")
    make_post("Piles", "A heap of leaves is not yet compost.")
    make_post("Bins", "Sort the heap compost bins.")
    # The vector runs on from the title into the body, for the pairs as for the phrase.
    across = make_post("Compost", "Heap it up.", excerpt="")
    found = {result.slug for result in post_search(query='"compost heap"').results}
    assert found == {together.slug, across.slug}


def test_a_phrase_of_words_apart_by_a_stop_word_is_found():
    post = make_post("Autumn", f"{FILLER} A heap of leaves by the gate.")
    make_post("Spring", f"{FILLER} Leaves of the heap.")
    assert [result.slug for result in post_search(query='"heap of leaves"').results] == [post.slug]
