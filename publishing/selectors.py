"""Reads of posts."""

import difflib
import logging
import re
from typing import Any

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import Aggregate, BooleanField, Count, F, Func, Q, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from contentpipeline.errors import NotFound
from contentpipeline.roles import may_manage_posts
from tasks.interfaces import Subject
from tasks.models import Status
from tasks.selectors import task_readable_by

from .models import Post
from .search import estimated_count, post_search

logger = logging.getLogger(__name__)


def post_list_public() -> QuerySet[Post]:
    return Post.objects.published()


def post_get_for_user(*, slug: str, user=None) -> Post:
    """A published post; editors and publishers may also read scheduled and
    unpublished ones."""
    qs = Post.objects.all() if may_manage_posts(user) else Post.objects.published()
    try:
        return qs.get(slug=slug)
    except Post.DoesNotExist as exc:
        raise NotFound("Post not found.") from exc


_COVER = re.compile(r"covers/(?P<task_id>[0-9a-f-]{36})-g[0-9]{1,6}\.png")


def media_access(*, user, path: str) -> str | None:
    """How `user` may fetch the media file at `path`: "public", "private" or not at all
    (None). Only covers are stored: a published post's cover is public; any other cover
    is a draft's, private to the task's owner and editors."""
    match = _COVER.fullmatch(path)
    if match is None:
        return None
    task_id = match["task_id"]
    url = f"{settings.MEDIA_URL}{path}"
    if Post.objects.published().filter(task_id=task_id, image_url=url).exists():
        return "public"
    if user is None or not user.is_authenticated:
        return None
    return "private" if task_readable_by(user=user, task_id=task_id) else None


def post_task_ids_due() -> list:
    """Tasks still `approved` whose scheduled post has gone live."""
    return list(
        Post.objects.published()
        .filter(task__status=Status.APPROVED)
        .values_list("task_id", flat=True)
    )


def post_ids_expired() -> list[int]:
    """Posts on the site (or scheduled) whose expiry date has come: the expiry job's to
    take down."""
    return list(
        Post.objects.filter(unpublished_at__isnull=True, expire_at__lte=timezone.now())
        .order_by("expire_at")
        .values_list("pk", flat=True)
    )


# --- Tags and categories: counts of published posts -------------------------------------


def _live_posts_sql(*columns: str) -> tuple[str, tuple]:
    """SQL (and its parameters) for `columns` of the posts readers see, from the one
    definition of "published" (`Post.objects.published()`)."""
    query = Post.objects.published().order_by().values(*columns).query
    return query.sql_with_params()


def _name_of(names: dict[str, int]) -> str:
    """The spelling most posts use; of equals, the first in alphabetical order."""
    return min(names, key=lambda name: (-names[name], name))


def _by_count_then_name(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda row: (-row["count"], row["name"].casefold(), row["slug"]))


def tag_counts() -> list[dict]:
    """Every tag of a published post: `{name, slug, count}`, most used first, then by
    name. One query: the posts are counted by tag slug (what `/tags/<slug>/` matches,
    so a post tagged "Soil health" and "soil-health" counts once), and each slug shows
    the name most posts spell it with. Tags with no slug (nothing but punctuation) are
    left out, as they have no page."""
    live, params = _live_posts_sql("id", "tags", "tag_slugs")
    sql = (
        f"WITH live AS ({live}) "  # noqa: S608 - the ORM's own SQL, values are parameters
        "SELECT 'slug', slug, COUNT(DISTINCT id) FROM live, unnest(tag_slugs) AS slug "
        "GROUP BY slug "
        "UNION ALL "
        "SELECT 'name', name, COUNT(DISTINCT id) FROM live, unnest(tags) AS name "
        "GROUP BY name"
    )
    counts: dict[str, int] = {}
    names: dict[str, dict[str, int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for kind, value, count in cursor.fetchall():
            if kind == "slug":
                counts[value] = count
            else:
                names.setdefault(slugify(value), {})[value] = count
    return _by_count_then_name(
        [
            {"name": _name_of(names[slug]) if slug in names else slug, "slug": slug, "count": count}
            for slug, count in counts.items()
        ]  # fmt: skip
    )


class _Mode(Aggregate):
    """PostgreSQL's `mode() WITHIN GROUP (ORDER BY x)`: the most frequent value."""

    function = "mode"
    template = "%(function)s() WITHIN GROUP (ORDER BY %(expressions)s)"


def category_counts() -> list[dict]:
    """Every category of a published post: `{name, slug, count}`, most used first, then
    by name. One query, grouped by the slug `/categories/<slug>/` matches."""
    rows = (
        Post.objects.published()
        .exclude(category_slug="")
        .order_by()
        .values("category_slug")
        .annotate(count=Count("id"), name=_Mode("category"))
    )
    return _by_count_then_name(
        [
            {"name": row["name"], "slug": row["category_slug"], "count": row["count"]}
            for row in rows
        ]  # fmt: skip
    )


# --- Versions of a post ------------------------------------------------------------------

# What a version shows and what its diff compares, in this order.
VERSION_FIELDS = (
    "title", "excerpt", "body_markdown", "body_html", "tags", "category", "seo_title",
    "meta_description", "published_at", "unpublished_at", "expire_at",
)  # fmt: skip
# Fields whose change is also shown as a unified diff of their lines.
LONG_TEXT_FIELDS = ("excerpt", "body_markdown", "body_html")
# history_id is a PostgreSQL integer: a larger number is no version (and must not reach
# the database, which would refuse it).
MAX_VERSION_ID = 2**31 - 1


def post_versions(post: Post) -> QuerySet:
    """The post's versions (simple-history records), newest first."""
    return post.history.select_related("history_user").order_by("-history_date", "-history_id")


def post_version_get(*, post: Post, version_id) -> Any:
    """One version of this post; NotFound for an unknown id, one of another post's
    versions, or anything that is not a version id at all."""
    try:
        number = int(str(version_id))
    except ValueError:
        number = 0
    version = None
    if 0 < number <= MAX_VERSION_ID:
        version = post_versions(post).filter(history_id=number).first()
    if version is None:
        raise NotFound("No such version of this post.")
    return version


def post_version_before(version) -> Any | None:
    """The version of the same post just before `version`, or None for the first."""
    return (
        type(version)
        ._default_manager.filter(id=version.id)
        .filter(
            Q(history_date__lt=version.history_date)
            | Q(history_date=version.history_date, history_id__lt=version.history_id)
        )
        .order_by("-history_date", "-history_id")
        .first()
    )


def post_version_source(version) -> dict:
    """Provenance of a version: the task, its generation and the models that wrote it."""
    return {
        "task_id": str(version.task_id) if version.task_id else None,
        "generation": version.generation,
        "models": list(version.models_used or []),
    }


def post_version_diff(*, version, previous=None) -> list[dict]:
    """Field by field, what `version` changed against `previous` (the version before
    it): `{field, change, before, after, unified_diff}` for each changed field of
    VERSION_FIELDS, `change` being "added" (the first version: every field, `before`
    None) or "changed". Long text fields carry a unified diff of their lines as well;
    for the others `unified_diff` is None."""
    changes = []
    for field in VERSION_FIELDS:
        after = getattr(version, field)
        before = getattr(previous, field) if previous is not None else None
        if previous is not None and before == after:
            continue
        unified = None
        if field in LONG_TEXT_FIELDS:
            unified = "\n".join(
                difflib.unified_diff(
                    (before or "").splitlines(),
                    (after or "").splitlines(),
                    fromfile=f"version {previous.history_id}" if previous else "(none)",
                    tofile=f"version {version.history_id}",
                    lineterm="",
                )
            )
        changes.append(
            {"field": field, "change": "changed" if previous is not None else "added",
             "before": before, "after": after, "unified_diff": unified}
        )  # fmt: skip
    return changes


# --- Posts by status (editors) -----------------------------------------------------------

POST_STATUSES = ("published", "scheduled", "unpublished")


def post_list_with_status(*, status: str) -> QuerySet[Post]:
    """`published` (what readers see), `scheduled` (approved, not live yet) or
    `unpublished` (taken off the site). Only editors may ask for the last two."""
    return Post.objects.with_status(status)


def post_list_by_slugs(slugs: list[str]) -> list[Post]:
    """The published posts with these slugs, in the order given."""
    found = {post.slug: post for post in post_list_public().filter(slug__in=slugs)}
    return [found[slug] for slug in slugs if slug in found]


MAX_RELATED = 5
MAX_QUERY_LENGTH = 200  # publishing.search's own limit
# Words of the topic and keywords put into the broader query.
MAX_QUERY_WORDS = 12
_WORD = re.compile(r"[^\W_]{3,}")


def related_posts_for_brief(brief) -> list[dict[str, str]]:
    """At most MAX_RELATED published posts about the brief's subject, as {"title",
    "url"} with the site-relative URL of each (`/posts/<slug>/`): first those matching
    the whole topic, then those matching any of its words or keywords, best match first.
    Never raises: a failing search is logged and finds nothing (the research stage must
    not fail for want of links)."""
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


# --- Posts a new task would write again (tasks.interfaces.PostOverlaps) ----------------------

SAME_KEYWORD = "same primary keyword"
SIMILAR_TOPIC = "similar topic"
# Where a post says what it is about: its title (weight A), excerpt and tags (B).
SUBJECT_WEIGHTS = "AB"
# Posts whose title and tags are tested for one new task, at most: see below.
MAX_OVERLAP_CANDIDATES = 5_000


def post_overlaps_for_subject(subject: Subject, /, *, limit: int) -> list[dict[str, str]]:
    """Published posts on `subject` (the PostOverlaps publishing provides to the tasks
    app): at most `limit` {"title", "url", "reason"}, best match first, the
    site-relative URL of each. A post's title, excerpt or tags must hold the primary
    keyword as a phrase ("same primary keyword") or most of the topic's words
    ("similar topic"); its body alone does not make it the same subject. One query,
    through the search vector's GIN index (after PostgreSQL's estimate of its
    matches: when the subject's words are in more than MAX_OVERLAP_CANDIDATES posts,
    only that many of the newest are looked at); the queries hold only quoted lexemes
    (tasks.interfaces.Subject), never the user's text."""
    keyword = subject.keyword_query(SUBJECT_WEIGHTS)
    topic = subject.topic_query(SUBJECT_WEIGHTS)
    queries = [query for query in (keyword, topic) if query]
    if not queries:
        return []
    # The lexemes are English stems already: the `simple` config takes them as they are.
    either = SearchQuery(" | ".join(f"({query})" for query in queries),
                         search_type="raw", config="simple")  # fmt: skip
    same_keyword = (
        Func(
            F("search_vector"),
            SearchQuery(keyword, search_type="raw", config="simple"),
            function="ts_match_vq",
            output_field=BooleanField(),
        )  # fmt: skip
        if keyword
        else None
    )
    matches = Post.objects.published().filter(search_vector=either)
    if estimated_count(matches) > MAX_OVERLAP_CANDIDATES:
        # The index knows which posts hold the words, not where: words most bodies hold
        # would have every post read to find them in titles. Then only the newest
        # MAX_OVERLAP_CANDIDATES posts are looked at (through the published_at index).
        newest = (
            Post.objects.published()
            .order_by("-published_at")
            .values("published_at")[MAX_OVERLAP_CANDIDATES - 1 : MAX_OVERLAP_CANDIDATES]
        )
        matches = matches.filter(published_at__gte=Subquery(newest))
    rows = matches.annotate(rank=SearchRank(F("search_vector"), either))
    order = ["-rank", "-published_at", "-id"]
    if same_keyword is not None:
        rows = rows.annotate(same_keyword=same_keyword)
        order.insert(0, "-same_keyword")
    found = rows.order_by(*order).values("slug", "title", *(["same_keyword"] if keyword else []))
    return [
        {
            "title": row["title"],
            "url": reverse("publishing:post_detail", kwargs={"slug": row["slug"]}),
            "reason": SAME_KEYWORD if row.get("same_keyword") else SIMILAR_TOPIC,
        }
        for row in found[:limit]
    ]
