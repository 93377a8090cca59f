"""The public site's pages: what they show (published posts only), their SEO tags, the
feed and the sitemap, the 404 page, hostile addresses, and the page cache that a post
change empties at once."""

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.utils import timezone

from approvals.services import approval_decide
from publishing import views
from publishing.models import Post
from publishing.services import post_unpublish, post_update
from tasks.runner import run_pipeline

from ..factories import UserFactory
from ..tasks.factories import ContentTaskFactory
from .factories import PostFactory

pytestmark = pytest.mark.django_db

SITEMAP_NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def make_post(title: str, minutes_ago: int = 0, **kwargs) -> Post:
    kwargs.setdefault("published_at", timezone.now() - timedelta(minutes=minutes_ago))
    return PostFactory(title=title, **kwargs)


def hidden_posts(**kwargs) -> tuple[Post, Post]:
    """A scheduled post and an unpublished one, both with `kwargs`."""
    scheduled = make_post(
        "Scheduled secret", published_at=timezone.now() + timedelta(days=1), **kwargs
    )
    unpublished = make_post("Unpublished secret", unpublished_at=timezone.now(), **kwargs)
    return scheduled, unpublished


class Elements(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))

    def meta(self, **match) -> list[str]:
        return [
            attrs.get("content")
            for tag, attrs in self.found
            if tag == "meta" and all(attrs.get(k) == v for k, v in match.items())
        ]

    def links(self, rel: str) -> list[str]:
        return [a["href"] for tag, a in self.found if tag == "link" and a.get("rel") == rel]

    def urls(self) -> list[str]:
        return [
            value
            for _, attrs in self.found
            for name, value in attrs.items()
            if name in ("src", "href", "action") and value
        ]


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


def titles_in(html: str, candidates) -> list[str]:
    """The candidate titles the page shows, in the order it shows them."""
    shown = [title for title in candidates if title in html]
    return sorted(shown, key=html.index)


def feed_items(client) -> list[dict]:
    root = ET.fromstring(client.get("/feed/").content)  # noqa: S314 - our own feed
    assert root.tag == "rss"
    return [{child.tag: child.text for child in item} for item in root.find("channel").iter("item")]


def sitemap_locations(client) -> list[str]:
    response = client.get("/sitemap.xml")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/xml")
    root = ET.fromstring(response.content)  # noqa: S314 - our own sitemap
    return [loc.text for loc in root.findall("sm:url/sm:loc", SITEMAP_NS)]


def drafted(**kwargs):
    task = ContentTaskFactory(**kwargs)
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    return task


# --- Lists and pagination --------------------------------------------------------------


def test_the_home_page_shows_ten_posts_a_page_and_a_page_past_the_end_is_a_404(client):
    for i in range(11):
        make_post(f"Home post {i:02d}", minutes_ago=i)
    titles = [f"Home post {i:02d}" for i in range(11)]
    assert titles_in(page(client, "/"), titles) == titles[:10]
    assert titles_in(page(client, "/?page=2"), titles) == titles[10:]
    for bad in ("3", "0", "-1", "abc", "1e3", "999999999999", "9" * 5000):
        assert client.get("/", {"page": bad}).status_code == 404, bad


def test_a_tag_page_lists_the_tags_published_posts_and_paginates(client):
    for i in range(12):
        make_post(f"Tagged post {i:02d}", minutes_ago=i, tags=["Urban Beekeeping", "Honey"])
    make_post("Untagged post", tags=["Compost"])
    hidden_posts(tags=["Urban Beekeeping"])
    first = page(client, "/tags/urban-beekeeping/")
    assert "Tagged “Urban Beekeeping”" in first
    assert len(titles_in(first, [f"Tagged post {i:02d}" for i in range(12)])) == 10
    assert "Untagged post" not in first and "secret" not in first
    second = page(client, "/tags/urban-beekeeping/?page=2")
    assert titles_in(second, ["Tagged post 10", "Tagged post 11"]) == [
        "Tagged post 10",
        "Tagged post 11",
    ]
    assert client.get("/tags/no-such-tag/").status_code == 404
    assert client.get("/tags/urban-beekeeping/?page=3").status_code == 404


def test_a_category_page_lists_its_published_posts_and_an_unknown_one_is_a_404(client):
    make_post("Garden post", category="Home & Garden")
    make_post("Kitchen post", category="Kitchen")
    hidden_posts(category="Home & Garden")
    html = page(client, "/categories/home-garden/")
    assert "<h1>Home &amp; Garden</h1>" in html
    assert "Garden post" in html and "Kitchen post" not in html and "secret" not in html
    assert client.get("/categories/nowhere/").status_code == 404


def test_a_category_with_only_hidden_posts_has_no_page(client):
    hidden_posts(category="Secrets", tags=["hush"])
    assert client.get("/categories/secrets/").status_code == 404
    assert client.get("/tags/hush/").status_code == 404


# --- The post page ------------------------------------------------------------------------


def test_a_post_page_has_its_seo_title_description_open_graph_and_canonical_tags(client):
    post = make_post(
        "A long title about rain barrels",
        seo_title="Rain barrels, briefly",
        meta_description="How to collect rain & use it.",
        excerpt="The excerpt.",
        image_url="/media/covers/cover.png",
    )
    html = page(client, f"/posts/{post.slug}/")
    tags = Elements(html)
    url = f"http://testserver/posts/{post.slug}/"
    assert "<title>Rain barrels, briefly</title>" in html
    assert tags.meta(name="description") == ["How to collect rain & use it."]
    assert tags.meta(property="og:title") == ["Rain barrels, briefly"]
    assert tags.meta(property="og:description") == ["How to collect rain & use it."]
    assert tags.meta(property="og:image") == ["http://testserver/media/covers/cover.png"]
    assert tags.meta(property="og:url") == [url]
    assert tags.meta(property="og:type") == ["article"]
    assert tags.links("canonical") == [url]
    # The cover itself is the post's own image_url, as stored.
    assert 'src="/media/covers/cover.png"' in html


def test_a_post_without_seo_fields_falls_back_to_its_title_and_excerpt(client):
    post = make_post("Plain title <b>bold</b>", excerpt="Plain excerpt")
    html = page(client, f"/posts/{post.slug}/")
    tags = Elements(html)
    assert "<title>Plain title &lt;b&gt;bold&lt;/b&gt;</title>" in html
    assert tags.meta(name="description") == ["Plain excerpt"]
    assert tags.meta(property="og:title") == ["Plain title <b>bold</b>"]
    assert tags.meta(property="og:image") == []  # no cover, no og:image


def test_a_post_page_links_its_tags_and_category_to_their_pages(client):
    post = make_post("Linked post", tags=["Rain Water", "DIY"], category="Home & Garden")
    tags = Elements(page(client, f"/posts/{post.slug}/"))
    assert {"/tags/rain-water/", "/tags/diy/", "/categories/home-garden/"} <= set(tags.urls())
    assert "Linked post" in page(client, "/tags/rain-water/")
    assert "Linked post" in page(client, "/categories/home-garden/")


@pytest.mark.parametrize(
    ("words", "minutes"), [(1, 1), (150, 1), (200, 1), (1000, 5), (1300, 6), (2100, 10)]
)
def test_the_reading_time_is_the_words_over_200_and_at_least_a_minute(client, words, minutes):
    # Markdown syntax is not words: the heading hashes and emphasis do not count.
    body = "# Title\n\n" + " ".join(["**word**"] * (words - 1))
    post = make_post("Timed post", body_markdown=body)
    assert f"{minutes} min read" in page(client, f"/posts/{post.slug}/")


def test_related_posts_share_the_most_tags_first_then_the_category_then_the_newest(
    client, django_assert_max_num_queries
):
    post = make_post("Main post", tags=["a", "b", "c"], category="Garden", minutes_ago=50)
    one_tag = make_post("Shares one tag", tags=["c", "z"], minutes_ago=5)
    two_tags = make_post("Shares two tags", tags=["a", "b"], minutes_ago=40)
    same_category = make_post("Same category", category="Garden", minutes_ago=30)
    make_post("Newest unrelated", minutes_ago=1)
    hidden_posts(tags=["a", "b", "c"], category="Garden")
    # The post; shared tags; text similarity; the rest.
    with django_assert_max_num_queries(4):
        html = page(client, f"/posts/{post.slug}/")
    related = html[html.index("Related posts") :]
    candidates = [two_tags.title, one_tag.title, same_category.title, "Newest unrelated"]
    assert titles_in(related, candidates) == candidates[:3]
    assert "secret" not in related and "Main post" not in related


def test_posts_similar_in_text_rank_after_shared_tags_and_before_the_category(client):
    post = make_post("Turning compost heaps in winter", tags=["a"], category="Garden",
                     minutes_ago=50)  # fmt: skip
    shares_tag = make_post("Shares a tag", tags=["a"], minutes_ago=40)
    similar = make_post("Why compost heaps stall", minutes_ago=30)
    same_category = make_post("Same category", category="Garden", minutes_ago=20)
    make_post("Newest unrelated", minutes_ago=1)
    make_post("Compost heaps: a secret draft", published_at=timezone.now() + timedelta(days=1))
    make_post("Compost heaps, unpublished", unpublished_at=timezone.now())
    related = page(client, f"/posts/{post.slug}/").split("Related posts")[1]
    candidates = [shares_tag.title, similar.title, same_category.title, "Newest unrelated"]
    assert titles_in(related, candidates) == candidates[:3]
    assert "secret draft" not in related and "unpublished" not in related


def test_without_shared_tags_or_category_the_newest_posts_are_related(client):
    post = make_post("Lonely post", minutes_ago=10)
    for i in range(4):
        make_post(f"Other {i}", minutes_ago=i)
    related = page(client, f"/posts/{post.slug}/").split("Related posts")[1]
    assert titles_in(related, [f"Other {i}" for i in range(4)]) == ["Other 0", "Other 1", "Other 2"]


def test_drafts_scheduled_and_unpublished_posts_have_no_page(client, editor):
    scheduled, unpublished = hidden_posts()
    assert client.get(f"/posts/{scheduled.slug}/").status_code == 404
    assert client.get(f"/posts/{unpublished.slug}/").status_code == 404
    assert "secret" not in page(client, "/").lower()


# --- Archive --------------------------------------------------------------------------------


def at(year, month, day) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


def test_the_archive_groups_published_posts_by_month_newest_first(client):
    make_post("January early", published_at=at(2024, 1, 3))
    make_post("January late", published_at=at(2024, 1, 28))
    make_post("March post", published_at=at(2024, 3, 9))
    make_post("Hidden March", published_at=at(2024, 3, 10), unpublished_at=timezone.now())
    html = page(client, "/archive/")
    order = ["March 2024", "March post", "January 2024", "January late", "January early"]
    assert titles_in(html, order) == order
    assert "Hidden March" not in html and "February 2024" not in html
    assert "/archive/2024/3/" in Elements(html).urls()

    january = page(client, "/archive/2024/1/")
    assert "Posts from January 2024" in january
    assert titles_in(january, ["January late", "January early"]) == [
        "January late",
        "January early",
    ]
    assert "March post" not in january
    assert client.get("/archive/2024/2/").status_code == 404


# --- Feed and sitemap -----------------------------------------------------------------------


def test_the_feed_is_rss_with_the_latest_20_published_posts(client):
    for i in range(22):
        make_post(f"Feed post {i:02d}", minutes_ago=i, excerpt=f"Excerpt <{i}>", tags=["t"])
    hidden_posts()
    response = client.get("/feed/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/rss+xml")
    items = feed_items(client)
    assert [item["title"] for item in items] == [f"Feed post {i:02d}" for i in range(20)]
    assert items[0]["link"] == "http://testserver/posts/feed-post-00/"
    assert items[0]["description"] == "Excerpt &lt;0&gt;"  # plain text, escaped for readers
    assert items[0]["category"] == "t" and items[0]["pubDate"]


def test_the_sitemap_lists_live_posts_and_their_tag_and_category_pages_only(client):
    live = make_post("Live post", tags=["Bees"], category="Nature")
    scheduled, unpublished = hidden_posts(tags=["Secret tag"], category="Hidden")
    locations = sitemap_locations(client)
    assert sorted(locations) == sorted(
        [
            f"http://testserver/posts/{live.slug}/",
            "http://testserver/tags/bees/",
            "http://testserver/categories/nature/",
        ]
    )
    for path in locations:
        assert client.get(path.removeprefix("http://testserver")).status_code == 200


# --- Errors and hostile addresses -----------------------------------------------------------


def test_the_404_page_is_the_sites_html_page_when_debug_is_off(client, settings):
    settings.DEBUG = False
    response = client.get("/posts/no-such-post/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "Page not found" in html and 'href="/archive/"' in html and "<style>" in html
    assert client.get("/nowhere/at/all").status_code == 404


def test_an_unknown_api_path_stays_a_json_404_with_debug_off(client, settings):
    settings.DEBUG = False
    response = client.get("/api/nope")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize(
    "path",
    [
        "/tags/%00/",
        "/categories/%00/",
        "/posts/%00/",
        "/?page=999999999999",
        "/?page=%00",
        "/archive/0/13/",
        "/archive/2024/0/",
        "/archive/99999999999999999999/1/",
        "/archive/-1/1/",
        "/tags/" + "a" * 5000 + "/",
        "/tags/a/?page=99999999999999999999",
        "/sitemap.xml?p=999",
        "/sitemap.xml?p=%00",
    ],
)
def test_hostile_addresses_are_answered_4xx_not_500(client, settings, path):
    make_post("Some post", tags=["a"])
    settings.DEBUG = False
    client.raise_request_exception = False
    status = client.get(path).status_code
    assert 400 <= status < 500, (path, status)


def test_every_page_has_the_site_header_with_a_search_form(client):
    post = make_post("Header post", tags=["Bees"])
    for path in ["/", f"/posts/{post.slug}/", "/tags/bees/", "/archive/", "/nowhere/"]:
        html = client.get(path).content.decode()
        tags = Elements(html)
        assert ("a", {"class": "brand", "href": "/"}) in tags.found, path
        assert {"/archive/", "/feed/"} <= set(tags.urls()), path
        form = next(attrs for tag, attrs in tags.found if tag == "form")
        assert form["method"] == "get" and form["action"] == "/search/", path
        assert any(tag == "input" and attrs.get("name") == "q" for tag, attrs in tags.found)


def test_no_page_loads_anything_from_another_site(client):
    post = make_post(
        "Self-contained post",
        tags=["Bees"],
        category="Nature",
        image_url="/media/covers/x.png",
        body_markdown="Body [link](https://example.org/)",
        body_html='<p>Body <a href="https://example.org/">link</a></p>',
    )
    make_post("Other post", tags=["Bees"])
    paths = [
        "/",
        f"/posts/{post.slug}/",
        "/tags/bees/",
        "/categories/nature/",
        "/archive/",
        f"/archive/{post.published_at.year}/{post.published_at.month}/",
        "/no-such-page/",
        "/search/?q=bees",
    ]
    for path in paths:
        html = client.get(path).content.decode()
        # What the page itself loads: scripts, styles, images, fonts, frames.
        assets = re.findall(r"<(?:script|link|img|iframe|source)\b[^>]*", html)
        for tag in assets:
            for url in re.findall(r'(?:src|href)="([^"]*)"', tag):
                assert not url.startswith(("http://", "https://", "//")) or url.startswith(
                    "http://testserver/"
                ), (path, tag)
        assert "@import" not in html and "url(" not in html
        # Links the site itself makes are relative or its own absolute URLs; only the
        # post's (sanitized) body may link elsewhere.
        outside = [
            url
            for url in Elements(html).urls()
            if url.startswith(("http:", "https:", "//"))
            and not url.startswith("http://testserver/")
        ]
        assert outside == (["https://example.org/"] if path == paths[1] else []), path


# --- Page cache -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/posts/cached-post/", "/tags/bees/", "/categories/nature/", "/archive/"]
)
def test_a_page_is_served_from_the_cache_without_a_query(client, django_assert_num_queries, path):
    make_post("Cached post", tags=["Bees"], category="Nature")
    first = page(client, path)
    with django_assert_num_queries(0):
        again = client.get(path)
    assert again.status_code == 200 and again.content.decode() == first
    assert again["Content-Type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize(("path", "kind"), [("/feed/", "rss+xml"), ("/sitemap.xml", "xml")])
def test_the_feed_and_sitemap_are_served_from_the_cache_with_their_type(
    client, django_assert_num_queries, path, kind
):
    make_post("Cached post", tags=["Bees"])
    first = client.get(path)
    with django_assert_num_queries(0):
        again = client.get(path)
    assert again.content == first.content
    assert again["Content-Type"] == first["Content-Type"] and kind in again["Content-Type"]


def test_pages_differ_by_page_number_but_not_by_other_query_parameters(client):
    for i in range(11):
        make_post(f"Paged post {i:02d}", minutes_ago=i)
    page(client, "/")
    assert "Paged post 10" in page(client, "/?page=2")
    assert "Paged post 10" not in page(client, "/?utm_source=x")


def test_an_edited_post_shows_its_new_title_at_once(
    client, editor, django_assert_num_queries, django_capture_on_commit_callbacks
):
    post = make_post("Old title", tags=["Bees"])
    page(client, f"/posts/{post.slug}/")
    page(client, "/")
    with django_assert_num_queries(0):
        assert "Old title" in page(client, f"/posts/{post.slug}/")
    post.title = "New title"
    with django_capture_on_commit_callbacks(execute=True):
        post_update(post=post, user=editor)
    assert "New title" in page(client, f"/posts/{post.slug}/")
    assert "New title" in page(client, "/")
    assert "New title" in page(client, "/tags/bees/")


def test_a_reverted_post_shows_the_restored_title_at_once(
    client, editor, django_capture_on_commit_callbacks
):
    from publishing.services import post_revert

    post = make_post("First title")
    first_version = post.history.earliest("history_date").history_id
    post.title = "Second title"
    with django_capture_on_commit_callbacks(execute=True):
        post_update(post=post, user=editor)
    assert "Second title" in page(client, f"/posts/{post.slug}/")  # now cached
    assert "Second title" in client.get("/feed/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        post_revert(post=post, version_id=first_version, user=editor)
    assert "First title" in page(client, f"/posts/{post.slug}/")
    assert "First title" in client.get("/feed/").content.decode()
    assert "First title" in client.get(f"/api/posts/{post.slug}").json()["title"]


def test_an_unpublished_post_leaves_every_page_at_once(
    client, editor, django_capture_on_commit_callbacks
):
    post = make_post("Going away", tags=["Bees"], category="Nature")
    make_post("Staying", tags=["Bees"], category="Nature", minutes_ago=5)
    paths = ["/", f"/posts/{post.slug}/", "/tags/bees/", "/categories/nature/", "/archive/"]
    for path in paths:
        assert "Going away" in page(client, path)
    assert any(item["title"] == "Going away" for item in feed_items(client))
    assert f"http://testserver/posts/{post.slug}/" in sitemap_locations(client)

    with django_capture_on_commit_callbacks(execute=True):
        post_unpublish(post=post, user=editor)
    assert client.get(f"/posts/{post.slug}/").status_code == 404
    for path in ["/", "/tags/bees/", "/categories/nature/", "/archive/"]:
        html = page(client, path)
        assert "Going away" not in html and "Staying" in html, path
    assert [item["title"] for item in feed_items(client)] == ["Staying"]
    assert f"http://testserver/posts/{post.slug}/" not in sitemap_locations(client)


def test_a_newly_published_post_appears_on_the_home_page_and_in_the_feed_at_once(
    client, editor, django_capture_on_commit_callbacks
):
    make_post("Already there", minutes_ago=5)
    assert "Already there" in page(client, "/")
    assert [item["title"] for item in feed_items(client)] == ["Already there"]
    task = drafted(topic="Winter care for beehives")
    with django_capture_on_commit_callbacks(execute=True):
        _, post = approval_decide(task_id=task.pk, reviewer=editor, approved=True)
    assert titles_in(page(client, "/"), [post.title, "Already there"]) == [
        post.title,
        "Already there",
    ]
    assert [item["title"] for item in feed_items(client)][0] == post.title
    assert post.title in page(client, f"/posts/{post.slug}/")


def test_a_logged_in_editor_sees_a_fresh_page_while_readers_get_the_cached_one(client, editor):
    post = make_post("Cached title")
    page(client, f"/posts/{post.slug}/")
    # A write that bypasses the services does not empty the cache: readers keep the
    # cached page, an editor with a session is served from the database.
    Post.objects.filter(pk=post.pk).update(title="Fresh title")
    assert "Cached title" in page(client, f"/posts/{post.slug}/")
    client.force_login(UserFactory(editor=True))
    assert "Fresh title" in page(client, f"/posts/{post.slug}/")


def test_with_the_site_cache_off_every_request_renders_the_page(client, monkeypatch):
    monkeypatch.setattr(views, "SITE_CACHE", False)
    post = make_post("Uncached")
    page(client, f"/posts/{post.slug}/")
    Post.objects.filter(pk=post.pk).update(title="Changed")
    assert "Changed" in page(client, f"/posts/{post.slug}/")


def test_a_404_is_not_cached(client):
    assert client.get("/posts/later/").status_code == 404
    make_post("Later")
    assert client.get("/posts/later/").status_code == 200


def test_the_pages_are_served_with_the_cache_down(client, settings):
    from contentpipeline import cache as app_cache

    dead = "redis://127.0.0.1:1/1"  # nothing listens there
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": dead}}
    try:
        post = make_post("Still here")
        assert "Still here" in page(client, "/")
        assert "Still here" in page(client, f"/posts/{post.slug}/")
    finally:
        app_cache._state["down_until"].pop(dead, None)
        app_cache._state["was_down"].discard(dead)
