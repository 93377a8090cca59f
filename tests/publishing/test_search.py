"""Full-text search of published posts: `post_search`, `GET /api/posts/search` and the
`/search/` page. The same tests pass with and without pg_trgm on the server (the
embedded PostgreSQL of `make test` has none); the typo fallback is tested on both of
its paths wherever they run."""

import logging
from datetime import timedelta

import pytest
from django.db import connection
from django.http import Http404, HttpResponseNotFound
from django.test import RequestFactory
from django.urls import Resolver404, resolve
from django.utils import timezone

from contentpipeline.cache import cache_stats
from publishing import search as search_module
from publishing.api import search as search_api
from publishing.models import Post
from publishing.search import InvalidSearch, post_search, trigram_available
from publishing.search_views import SearchView

from .factories import PostFactory

pytestmark = pytest.mark.django_db

FILLER = (
    "Seasonal chores fill the weekend: sweeping the path, sorting seed packets and "
    "writing down what grew well this year."
)


def make_post(title: str, body: str = FILLER, *, minutes_ago: int = 10, **kwargs):
    published_at = timezone.now() - timedelta(minutes=minutes_ago)
    return PostFactory(title=title, body_markdown=body, published_at=published_at, **kwargs)


def slugs(page) -> list[str]:
    return [result.slug for result in page.results]


def search_page(client, **params):
    """GET /search/ through the URLconf; while the route is not wired yet, the view
    itself through a RequestFactory request (the same view, without the middleware)."""
    try:
        resolve("/search/")
    except Resolver404:
        request = RequestFactory().get("/search/", params)
        try:
            response = SearchView.as_view()(request)
        except Http404:
            return HttpResponseNotFound()
        response.render()
        return response
    return client.get("/search/", params)


# --- Ranking and syntax ------------------------------------------------------------------


def test_a_title_match_ranks_above_a_body_match_even_when_older():
    in_title = make_post("Compost basics", minutes_ago=60)
    in_body = make_post("Autumn notes", f"{FILLER} The compost went in last.", minutes_ago=1)
    make_post("Pruning roses")
    page = post_search(query="compost")
    assert slugs(page) == [in_title.slug, in_body.slug]
    assert page.total == 2 and page.corrected is None
    assert page.results[0].rank > page.results[1].rank


def test_a_tag_match_ranks_above_a_body_match():
    tagged = make_post("Autumn jobs", tags=["mulch"], minutes_ago=60)
    in_body = make_post("Spring jobs", f"{FILLER} Spread mulch thinly.", minutes_ago=1)
    assert slugs(post_search(query="mulch")) == [tagged.slug, in_body.slug]


def test_equal_matches_come_newest_first():
    older = make_post("Compost notes one", minutes_ago=30)
    newer = make_post("Compost notes two", minutes_ago=5)
    assert slugs(post_search(query="compost notes")) == [newer.slug, older.slug]


def test_a_quoted_phrase_finds_only_the_words_side_by_side():
    together = make_post("Heaps", "Turn the compost heap every week.")
    apart = make_post("Piles", "A heap of leaves is not yet compost.")
    assert slugs(post_search(query='"compost heap"')) == [together.slug]
    assert set(slugs(post_search(query="compost heap"))) == {together.slug, apart.slug}


def test_or_finds_either_word():
    bees = make_post("Beekeeping in winter")
    roses = make_post("Pruning roses")
    make_post("Sowing carrots")
    assert set(slugs(post_search(query="beekeeping OR pruning"))) == {bees.slug, roses.slug}


def test_a_minus_excludes_posts_with_the_word():
    keep = make_post("Compost for balconies")
    make_post("Compost with worms")
    assert slugs(post_search(query="compost -worms")) == [keep.slug]


@pytest.mark.parametrize("query", ["compos", "balcony compos", "worms or compos"])
def test_the_last_word_matches_as_a_prefix_while_typing(query):
    post = make_post("Compost for a balcony")
    make_post("Composing music outdoors")  # 'compos' -> 'compo':*, both match
    make_post("Pruning roses")
    page = post_search(query=query)
    assert post.slug in slugs(page)
    assert "pruning-roses" not in slugs(page)


def test_a_star_after_the_last_word_asks_for_the_prefix():
    post = make_post("PostgreSQL for content sites")
    make_post("Pruning roses")
    page = post_search(query="postgres*")
    assert slugs(page) == [post.slug] and page.corrected is None


@pytest.mark.parametrize("query", ["fermentat", "observabil", "gardening tool"])
def test_a_half_typed_word_finds_the_stem_it_is_heading_for(query):
    # The vectors hold stems: fermentation is 'ferment', observability 'observ'.
    fermentation = make_post("Fermentation at home")
    observability = make_post("Observability for small teams")
    tools = make_post("Gardening tools")
    found = slugs(post_search(query=query))
    expected = {"fermentat": fermentation, "observabil": observability}.get(query, tools)
    assert found == [expected.slug]


def test_a_word_inside_an_unclosed_phrase_is_not_taken_as_a_prefix():
    make_post("Compost for a balcony")
    assert post_search(query='"balcony compos').total == 0


def test_the_vector_follows_changes_made_without_save():
    post = make_post("Autumn jobs")
    type(post).objects.filter(pk=post.pk).update(tags=["hedgehogs"], title="Winter jobs")
    assert slugs(post_search(query="hedgehogs")) == [post.slug]
    assert post_search(query="autumn").total == 0


def test_past_the_ranking_limit_the_newest_matches_are_ranked_and_the_total_estimated(
    monkeypatch, client
):
    monkeypatch.setattr(search_module, "MAX_RANKED", 3)
    monkeypatch.setattr(search_api, "MAX_RANKED", 3)
    old_title_match = make_post("Compost", minutes_ago=500)
    newest = [make_post(f"Notes {i}", f"{FILLER} Compost.", minutes_ago=i) for i in range(4)]
    page = post_search(query="compost")
    assert page.estimated and page.total >= 3
    assert slugs(page) == [post.slug for post in newest[:3]]
    assert old_title_match.slug not in slugs(page)
    assert post_search(query="compost", offset=3).results == []
    body = client.get("/api/posts/search", {"q": "compost", "limit": 2}).json()
    assert body["count"] == page.total and "offset=2" in body["next"]
    body = client.get("/api/posts/search", {"q": "compost", "limit": 2, "offset": 2}).json()
    assert body["next"] is None  # no link past the ranked matches
    assert not post_search(query="pruning").estimated


# --- Snippets -----------------------------------------------------------------------------


SCRIPTED = (
    'Keep the compost **moist** & cool: never paste <script>alert("x")</script> into it, '
    "and turn the compost weekly."
)


def test_the_headline_marks_the_matches_and_escapes_everything_else():
    make_post("Garden safety", SCRIPTED)
    headline = post_search(query="compost").results[0].headline
    assert "<mark>compost</mark>" in headline
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in headline
    assert "<script" not in headline
    assert "&amp; cool" in headline and "**" not in headline  # Markdown syntax dropped
    without_marks = headline.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in without_marks and ">" not in without_marks


def test_the_prefix_match_is_highlighted_too():
    make_post("Garden safety", SCRIPTED)
    assert "<mark>compost</mark>" in post_search(query="compos").results[0].headline


def test_the_api_and_the_page_show_the_escaped_snippet(client):
    post = make_post("Garden safety", SCRIPTED, excerpt="Safety <b>first</b>")
    body = client.get("/api/posts/search", {"q": "compost"}).json()
    result = body["results"][0]
    assert result["slug"] == post.slug and result["excerpt"] == "Safety <b>first</b>"
    assert "<mark>compost</mark>" in result["headline"] and "&lt;script&gt;" in result["headline"]
    assert result["url"].endswith(f"/posts/{post.slug}/")
    for _ in range(2):  # computed, then from the cache
        page = search_page(client, q="compost")
        html = page.content.decode()
        assert page.status_code == 200
        assert "<mark>compost</mark>" in html and "&lt;script&gt;" in html
        assert "<script>alert" not in html and "&amp;lt;" not in html


# --- What is searched ----------------------------------------------------------------------


def test_only_published_posts_are_found():
    live = make_post("Compost live")
    make_post("Compost scheduled", minutes_ago=-60)
    make_post("Compost withdrawn", unpublished_at=timezone.now())
    page = post_search(query="compost")
    assert slugs(page) == [live.slug] and page.total == 1


# --- Typos ----------------------------------------------------------------------------------


def test_a_typo_finds_the_post_and_says_which_query_it_shows(monkeypatch):
    post = make_post("Compost for small gardens", f"{FILLER} Turn the compost weekly.")
    make_post("Pruning roses")
    if trigram_available():
        # The default set-up with pg_trgm corrects from titles, never reading ts_stat.
        def no_vocabulary():
            raise AssertionError("the vocabulary was read although pg_trgm is there")

        monkeypatch.setattr(search_module, "_vocabulary", no_vocabulary)
    page = post_search(query="compsot")
    assert slugs(page) == [post.slug]
    assert page.query == "compsot" and page.corrected == "compost"
    assert "<mark>compost</mark>" in page.results[0].headline  # marked as corrected


def test_a_typo_is_corrected_from_the_posts_words_without_pg_trgm(settings, monkeypatch):
    settings.SEARCH_TRIGRAM = False

    def no_trigrams(word):
        raise AssertionError("trigram similarity used although turned off")

    monkeypatch.setattr(search_module, "_title_correction", no_trigrams)
    post = make_post("Compost for small gardens", f"{FILLER} Hedgehogs sleep under leaves.")
    make_post("Pruning roses")
    page = post_search(query="compsot")
    assert slugs(page) == [post.slug] and page.corrected == "compost"
    # A word only the body has, in a query with a word that needs no correction.
    page = post_search(query="small hedgehgos")
    assert slugs(page) == [post.slug] and page.corrected == "small hedgehog"


def test_a_missing_pg_trgm_is_logged_once_and_search_degrades(monkeypatch, caplog):
    monkeypatch.setattr(search_module, "_trigram_checked", {})
    real_cursor = connection.cursor

    class NoTrigram:
        def __init__(self):
            self.cursor = real_cursor()

        def __enter__(self):
            self.cursor.__enter__()
            return self

        def __exit__(self, *exc):
            return self.cursor.__exit__(*exc)

        def execute(self, sql, params=None):
            if "pg_extension" in sql:
                sql = "SELECT false"
            return self.cursor.execute(sql, params)

        def __getattr__(self, name):
            return getattr(self.cursor, name)

    monkeypatch.setattr(connection, "cursor", NoTrigram)
    with caplog.at_level(logging.WARNING, logger="publishing.search"):
        assert trigram_available() is False
        assert trigram_available() is False
    assert [record.message.startswith("pg_trgm is not installed") for record in caplog.records] == [
        True
    ]


def test_words_that_are_fine_are_not_corrected():
    make_post("Compost for small gardens")
    make_post("Pruning roses")
    # Both words exist, in different posts: nothing to correct, nothing found.
    page = post_search(query="compost roses")
    assert page.total == 0 and page.corrected is None


def test_the_title_trigram_index_exists_exactly_where_pg_trgm_does():
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')")
        extension = cursor.fetchone()[0]
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'post_title_trgm')"
        )
        index = cursor.fetchone()[0]
    assert extension == index


# --- Hostile input ---------------------------------------------------------------------------

# Queries the search cannot take, and what the API's 400 says of each.
REFUSED = {
    "": "may not be blank",
    " ": "may not be blank",
    "   \t\n  ": "may not be blank",
    "a": "at least 2 characters",
    "-": "at least 2 characters",
    '"': "at least 2 characters",
    "x" * 10_240: "no more than 200 characters",
    "compost " * 1_300: "no more than 200 characters",
}
# Queries it answers, whatever syntax of PostgreSQL's or of ours they hold: those that
# name the word "compost" (and do not exclude it) find the one post, the others nothing.
HOSTILE = [
    "--",
    '""',
    "'; DROP TABLE publishing_post; --",
    "compost' OR '1'='1",
    "a:* & !b | (c",
    "compost:*",
    "\\\\ \\'",
    "<script>alert(1)</script>",
    "%_%",
    "the and of",
    "OR OR",
    "-compost",
    "- -",
    '"compost heap',
    "compost -",
    "🌱🌱",
    "compôst jardín 日本語 сад",
    "\u202e\u200b\ufeff",
    "\ue002\ue003compost\ue000",
    "compost\x01\x1f",
]
FIND_THE_POST = {
    "compost' OR '1'='1",
    "compost:*",
    '"compost heap',
    "compost -",
    "\ue002\ue003compost\ue000",
    "compost\x01\x1f",
}


@pytest.mark.parametrize("query", HOSTILE)
def test_any_other_query_answers_what_it_found_and_never_500(client, query):
    make_post("Compost heap basics")
    response = client.get("/api/posts/search", {"q": query})
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    found = [result["slug"] for result in body["results"]]
    assert found == (["compost-heap-basics"] if query in FIND_THE_POST else [])
    assert body["count"] == len(found)
    assert search_page(client, q=query).status_code == 200
    assert Post.objects.count() == 1


@pytest.mark.parametrize(("query", "message"), REFUSED.items())
def test_a_query_the_search_cannot_take_is_a_400_that_says_why(client, query, message):
    make_post("Compost heap basics")
    response = client.get("/api/posts/search", {"q": query})
    assert response.status_code == 400, response.content[:300]
    assert message in response.json()["q"][0]
    # The page: a blank query is the search page before a search, any other a 400.
    assert search_page(client, q=query).status_code == (200 if not query.strip() else 400)


def test_a_nul_byte_in_the_query_is_a_400(client):
    make_post("Compost heap basics")
    assert client.get("/api/posts/search?q=com%00post").status_code == 400
    with pytest.raises(InvalidSearch):
        post_search(query="\x00\x00a")
    assert slugs(post_search(query="comp\x00ost")) == ["compost-heap-basics"]


@pytest.mark.parametrize(
    "params",
    [
        {"q": "compost", "limit": "-1"},
        {"q": "compost", "limit": "abc"},
        {"q": "compost", "limit": "100000"},
        {"q": "compost", "offset": "99999999999999999999999"},
        {"q": "compost", "offset": "-5"},
    ],
)
def test_odd_limits_and_offsets_are_bounded(client, params):
    make_post("Compost heap basics")
    assert client.get("/api/posts/search", params).status_code == 200


@pytest.mark.parametrize("page", ["abc", "0", "-1", "99999999999999999999", "²"])
def test_an_impossible_page_number_is_a_404(client, page):
    make_post("Compost heap basics")
    assert search_page(client, q="compost", page=page).status_code == 404


@pytest.mark.parametrize("query", ["", "a", " b "])
def test_a_query_under_two_characters_is_a_400(client, query):
    response = client.get("/api/posts/search", {"q": query})
    assert response.status_code == 400
    assert "q" in response.json()


def test_a_missing_query_is_a_400(client):
    assert client.get("/api/posts/search").status_code == 400


def test_the_empty_search_page_is_the_form(client):
    response = search_page(client)
    assert response.status_code == 200 and 'name="q"' in response.content.decode()


# --- API shape, routing, paging ------------------------------------------------------------


def test_the_search_route_is_not_taken_for_a_post_slug(client):
    post = make_post("Compost basics")
    make_post("Search engines for gardeners", slug="search")
    for path in ("/api/posts/search", "/api/posts/search/"):
        response = client.get(path, {"q": "compost"})
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"count", "next", "previous", "results", "corrected"}
        assert body["count"] == 1 and body["results"][0]["slug"] == post.slug
        assert set(body["results"][0]) == {
            "slug", "title", "excerpt", "headline", "rank", "published_at", "url",
        }  # fmt: skip


def test_the_api_pages_with_limit_and_offset(client):
    for i in range(12):
        make_post(f"Compost note {i:02d}", minutes_ago=i)
    first = client.get("/api/posts/search", {"q": "compost", "limit": 5}).json()
    assert first["count"] == 12 and len(first["results"]) == 5 and first["previous"] is None
    assert "offset=5" in first["next"]
    last = client.get("/api/posts/search", {"q": "compost", "limit": 5, "offset": 10}).json()
    assert [r["title"] for r in last["results"]] == ["Compost note 10", "Compost note 11"]
    assert last["next"] is None and last["previous"] is not None
    past = client.get("/api/posts/search", {"q": "compost", "offset": 50}).json()
    assert past["count"] == 12 and past["results"] == []


def test_the_api_reports_a_correction(client):
    make_post("Compost for small gardens")
    body = client.get("/api/posts/search", {"q": "compsot"}).json()
    assert body["corrected"] == "compost" and body["count"] == 1


def test_the_page_shows_ten_results_a_page_and_a_correction(client):
    for i in range(12):
        make_post(f"Compost note {i:02d}", minutes_ago=i)
    first = search_page(client, q="compost").content.decode()
    assert "Compost note 09" in first and "Compost note 10" not in first
    assert "page=2" in first and "12 results" in first
    second = search_page(client, q="compost", page=2).content.decode()
    assert "Compost note 11" in second and "Compost note 00" not in second
    assert search_page(client, q="compost", page=3).status_code == 404
    typo = search_page(client, q="compsot").content.decode()
    assert "Showing results for" in typo and "<strong>compost</strong>" in typo


def test_the_schema_documents_the_search_route(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/posts/search/"]["get"]
    assert {"200", "400"} <= set(operation["responses"])
    assert {"q", "limit", "offset"} <= {p["name"] for p in operation["parameters"]}


# --- Cache ------------------------------------------------------------------------------------


def test_a_repeated_search_is_answered_from_the_cache(django_assert_num_queries):
    make_post("Compost basics")
    first = post_search(query="compost", limit=5)
    hits = cache_stats()["hits"]
    with django_assert_num_queries(0):
        again = post_search(query="compost", limit=5)
    assert again == first
    assert cache_stats()["hits"] == hits + 1
    # Another page is another entry.
    with django_assert_num_queries(2):
        post_search(query="compost", limit=5, offset=1)


def test_the_posts_list_takes_q_and_answers_in_its_own_shape_best_match_first(client):
    from .factories import PostFactory

    PostFactory(title="Notes on pruning", body_markdown="Compost is mentioned once.",
                body_html="<p>x</p>")  # fmt: skip
    best = PostFactory(title="Compost for beginners", body_markdown="Compost, compost.",
                       body_html="<p>x</p>")  # fmt: skip
    PostFactory(title="Unrelated", body_markdown="Nothing here.", body_html="<p>x</p>")
    body = client.get("/api/posts", {"q": "compost", "limit": 1}).json()
    assert body["count"] == 2 and body["next"] is not None
    assert [post["slug"] for post in body["results"]] == [best.slug]
    assert set(body["results"][0]) >= {"slug", "title", "body_html", "url", "published_at"}
    assert client.get("/api/posts", {"q": "c"}).status_code == 400
    assert client.get("/api/posts", {"q": "zzzzqqqq"}).json()["count"] == 0
