"""The edge page cache in front of Django: a shareable page is answered from Redis
the second time, fresh after any post change, and never for a session, another
method, an unmarked answer or with Redis down."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator

from contentpipeline import cache as app_cache
from contentpipeline.edge_cache import EdgePageCache

DEAD = "redis://127.0.0.1:1"


class Page:
    """An inner ASGI app answering a page, counting how often it is asked."""

    def __init__(self, *, marked: bool = True, cookie: bool = False, status: int = 200):
        self.calls, self.marked, self.cookie, self.status = 0, marked, cookie, status

    async def __call__(self, scope, receive, send) -> None:
        self.calls += 1
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        if self.marked:
            headers.append((b"x-page-cache", b"content"))
        if self.cookie:
            headers.append((b"set-cookie", b"csrftoken=abc"))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        body = b"" if scope["method"] == "HEAD" else f"page {self.calls}".encode()
        await send({"type": "http.response.body", "body": body})


async def fetch(app, path: str = "/posts/x/", method: str = "GET", headers=None) -> dict:
    communicator = HttpCommunicator(app, method, path, headers=headers or [(b"host", b"site")])
    return await communicator.get_response()


async def test_a_marked_page_is_answered_from_the_cache_the_second_time():
    inner = Page()
    app = EdgePageCache(inner)
    first, second = await fetch(app, "/edge/a/"), await fetch(app, "/edge/a/")
    assert (first["body"], second["body"]) == (b"page 1", b"page 1")
    assert inner.calls == 1
    for response in (first, second):
        assert b"x-page-cache" not in {name.lower() for name, _ in response["headers"]}


async def test_a_post_change_makes_every_kept_page_stale_at_once():
    inner = Page()
    app = EdgePageCache(inner)
    await fetch(app, "/edge/b/")
    await sync_to_async(app_cache._bump)()
    assert (await fetch(app, "/edge/b/"))["body"] == b"page 2"


@pytest.mark.parametrize(
    ("inner", "path", "headers"),
    [
        (Page(), "/edge/c/", [(b"host", b"site"), (b"cookie", b"sessionid=abc123")]),
        (Page(marked=False), "/edge/d/", None),
        (Page(cookie=True), "/edge/e/", None),
        (Page(status=404), "/edge/f/", None),
        (Page(), "/edge/g/?q=anything", None),
        (Page(), "/api/posts", None),
        (Page(), "/admin/", None),
    ],
)
async def test_what_is_not_shareable_always_reaches_django(inner, path, headers):
    app = EdgePageCache(inner)
    await fetch(app, path, headers=headers)
    await fetch(app, path, headers=headers)
    assert inner.calls == 2


async def test_page_numbers_are_pages_of_their_own():
    inner = Page()
    app = EdgePageCache(inner)
    assert (await fetch(app, "/edge/h/?page=2"))["body"] == b"page 1"
    assert (await fetch(app, "/edge/h/?page=3"))["body"] == b"page 2"
    assert (await fetch(app, "/edge/h/?page=2"))["body"] == b"page 1"


async def test_a_head_request_does_not_leave_an_empty_page_behind():
    inner = Page()
    app = EdgePageCache(inner)
    await fetch(app, "/edge/i/", method="HEAD")
    assert (await fetch(app, "/edge/i/"))["body"] == b"page 2"
    assert (await fetch(app, "/edge/i/"))["body"] == b"page 2"


async def test_with_redis_down_django_answers_every_request(settings):
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"{DEAD}/1"}}
    inner = Page()
    app = EdgePageCache(inner)
    try:
        assert (await fetch(app, "/edge/j/"))["status"] == 200
        assert (await fetch(app, "/edge/j/"))["status"] == 200
        assert inner.calls == 2
    finally:
        app_cache._state["down_until"].pop(f"{DEAD}/1", None)
        app_cache._state["was_down"].discard(f"{DEAD}/1")


@pytest.mark.django_db(transaction=True)
async def test_the_sites_post_page_is_kept_at_the_edge_until_the_content_changes():
    from contentpipeline.asgi import application
    from publishing.models import Post

    from ..publishing.factories import PostFactory

    post = await sync_to_async(PostFactory)(title="Told at the edge")
    url = post.get_absolute_url()
    host = [(b"host", b"localhost")]
    assert b"Told at the edge" in (await fetch(application, url, headers=host))["body"]
    # Changed behind the services' back: no version bump, so the edge still tells
    # the kept page (Django would render the new title).
    await Post.objects.filter(pk=post.pk).aupdate(title="Changed quietly")
    kept = await fetch(application, url, headers=host)
    assert b"Told at the edge" in kept["body"]
    assert any(name.lower() == b"x-content-type-options" for name, _ in kept["headers"])
    await sync_to_async(app_cache._bump)()
    assert b"Changed quietly" in (await fetch(application, url, headers=host))["body"]
