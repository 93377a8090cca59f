"""How a post was made, as readers and integrators see it: the models that wrote it,
the numbered sources it cites, who approved which text and when, and whether the live
text is still that text.

A post from a task keeps all of this from its approval (publishing.services.post_publish);
a post written by hand in the admin has no task, no models and no approval to tell of."""

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.utils.dateparse import parse_datetime

from tasks.pipeline.text import APPROVED_FIELDS, content_hash

from .models import Post

# What a post keeps of each source: what a reader needs to follow the citation.
MAX_SOURCE_TITLE = 300
MAX_SOURCE_URL = 2000
# The machine-readable disclosure of a post a model wrote and an editor approved.
AI_DISCLOSURE = "ai-generated; edited and approved by a human editor"


def is_http_url(url: Any) -> bool:
    """Whether `url` is an absolute http(s) URL with a host, nothing a browser would
    read as a script or a page of this site (what a link to a source may be)."""
    text = str(url or "")
    if not text or any(char.isspace() or ord(char) < 32 for char in text):
        return False
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def cited_sources(sources: Any) -> list[dict]:
    """The numbered sources as a post keeps them: {n, url, title, fetched_at} each, in
    order of their numbers. The task's validation lets only http(s) URLs in; anything
    else (or a source without a number) is dropped here all the same, as the post page
    links each one."""
    kept: dict[int, dict] = {}
    for source in sources if isinstance(sources, list) else []:
        if not isinstance(source, dict):
            continue
        url = str(source.get("url") or "").strip()
        try:
            number = int(source.get("n"))
        except (TypeError, ValueError):
            continue
        if number < 1 or len(url) > MAX_SOURCE_URL or not is_http_url(url):
            continue
        title = " ".join(str(source.get("title") or "").split())[:MAX_SOURCE_TITLE]
        fetched_at = source.get("fetched_at")
        kept.setdefault(
            number,
            {"n": number, "url": url, "title": title,
             "fetched_at": str(fetched_at) if fetched_at else None},
        )  # fmt: skip
    return [kept[number] for number in sorted(kept)]


def post_content_hash(post: Post) -> str:
    """The content hash of the post's live text (the fields an editor approves)."""
    return content_hash({name: getattr(post, name) for name in APPROVED_FIELDS})


def post_provenance(post: Post) -> dict[str, Any]:
    """What the API says of how `post` was made: `models` (those that wrote its draft),
    `sources` (how many it cites), `approved_at`, `approved_by_role`, `content_hash`
    (of the live text) and `matches_approved` (whether that is still the text
    approved; None for a post nobody approved, one written in the admin)."""
    live = post_content_hash(post)
    return {
        "models": list(post.models_used or []) if post.task_id else [],
        "sources": len(post_sources(post)),
        "approved_at": post.approved_at,
        "approved_by_role": post.approved_by_role,
        "content_hash": live,
        "matches_approved": live == post.approved_hash if post.approved_hash else None,
    }


def post_sources(post: Post) -> list[dict]:
    """The post's numbered sources, checked again as they are read (an http(s) URL
    each): what was stored is linked only if it is still a safe link."""
    return cited_sources(post.sources)


def post_sources_for_page(post: Post) -> list[dict]:
    """post_sources, each with `fetched_date`, its `fetched_at` read as a datetime (None
    when it is missing or not a date), for the page to show."""
    return [
        {**source, "fetched_date": _datetime(source["fetched_at"])} for source in post_sources(post)
    ]


def _datetime(text: str | None) -> datetime | None:
    try:
        return parse_datetime(text) if text else None
    except ValueError:  # well formed, but no such date
        return None


def post_disclosure(post: Post) -> dict[str, Any] | None:
    """The page's provenance note and meta tags of a post a model wrote (None for a
    post from no task: nothing to disclose of a model): the models, the number of
    sources, the approver's role and date, and the live text's content hash."""
    if post.task_id is None:
        return None
    return {
        "disclosure": AI_DISCLOSURE,
        "models": list(post.models_used or []),
        "sources": len(post_sources(post)),
        "approved_at": post.approved_at,
        "approved_by_role": post.approved_by_role,
        "content_hash": post_content_hash(post),
    }
