import logging
import re

from django.apps import AppConfig

logger = logging.getLogger(__name__)

MAX_RELATED = 5
MAX_QUERY_LENGTH = 200  # publishing.search's own limit
# Words of the topic and keywords put into the broader query.
MAX_QUERY_WORDS = 12
_WORD = re.compile(r"[^\W_]{3,}")


class PublishingConfig(AppConfig):
    name = "publishing"
    verbose_name = "Publishing"

    def ready(self) -> None:
        # The research stage (in contentpipeline, below this app) may not import
        # publishing: it asks the finders registered here for posts to link to.
        from contentpipeline.stages.research import register_related_finder

        register_related_finder(related_posts_for_brief)


def related_posts_for_brief(brief) -> list[dict[str, str]]:
    """At most MAX_RELATED published posts about the brief's subject, as {"title",
    "url"} with the site-relative URL of each (`/posts/<slug>/`): first those matching
    the whole topic, then those matching any of its words or keywords, best match first.
    Never raises: a failing search is logged and finds nothing (the research stage must
    not fail for want of links)."""
    from django.urls import reverse

    from .search import post_search

    words = _WORD.findall(" ".join([brief.topic, *brief.keywords]))
    words = list(dict.fromkeys(word.lower() for word in words))[:MAX_QUERY_WORDS]
    queries = [_fitted(brief.topic.split(), " "), _fitted(words, " or ")]
    links: dict[str, str] = {}
    for query in queries:
        if len(links) >= MAX_RELATED or len(query) < 2:
            continue
        try:
            page = post_search(query=query, limit=MAX_RELATED)
        except Exception:  # the database or the cache failing: no links, no failed task
            logger.exception("Searching posts related to %r failed", brief.topic)
            continue
        for result in page.results:
            links.setdefault(result.slug, result.title)
    return [
        {"title": title, "url": reverse("publishing:post_detail", kwargs={"slug": slug})}
        for slug, title in list(links.items())[:MAX_RELATED]
    ]


def _fitted(words: list[str], separator: str) -> str:
    """The words joined by `separator`, as many as fit in a search query, whole."""
    query = ""
    for word in words:
        longer = f"{query}{separator}{word}" if query else word
        if len(longer) > MAX_QUERY_LENGTH:
            break
        query = longer
    return query
