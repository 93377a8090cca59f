"""The public site: published posts only (and their covers).

Pages that show posts are cached whole in the `content` tier (`cached_page`), so a
change to any post (which bumps the content version) is on every page at once.
`SITE_CACHE=off` in the environment of the web process turns that cache off (the
benchmark's uncached phase uses it); the pages are then rendered on every request.
"""

import hashlib
import os
from collections.abc import Callable, Iterable
from datetime import date
from functools import wraps
from itertools import groupby
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Case, IntegerField, Value, When
from django.db.models.expressions import RawSQL
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.text import slugify
from django.views.generic import DetailView, ListView, TemplateView
from django.views.static import serve
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from contentpipeline.cache import tier_get_or_set
from tasks.pipeline.text import word_count

from .models import Post
from .provenance import post_disclosure, post_sources_for_page
from .search import post_similar
from .selectors import media_access, post_list_public

SITE_CACHE = os.environ.get("SITE_CACHE", "on").strip().lower() not in {"off", "0", "false", "no"}
WORDS_PER_MINUTE = 200
RELATED_POSTS = 3
# What a list shows of a post: not its body.
LIST_FIELDS = ("body_markdown", "body_html", "models_used", "sources")


class _NotCacheable(Exception):
    """The page's answer is not a plain 200 (a redirect, a page with cookies): it is
    passed on as it is and not stored."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__()
        self.response = response


def _cacheable(request: HttpRequest) -> bool:
    # Only readers without a session share pages: an editor (or anyone with a session)
    # gets a fresh page, and looking at the cookie alone costs no session query.
    return (
        SITE_CACHE
        and request.method in ("GET", "HEAD")
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
    )


def cached_page(view: Callable, *, params: Iterable[str] = ("page",)) -> Callable:
    """`view` with its 200 answers kept in the `content` tier, keyed by scheme, host
    (pages carry absolute URLs), path and the query parameters the page reads
    (`params`; others do not change the page, so they do not make new entries). The
    rendered content and the view's own headers are stored; the response is rebuilt
    from them, and the middleware runs on it as on any other."""
    params = tuple(params)

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not _cacheable(request):
            return view(request, *args, **kwargs)
        query = urlencode([(name, value) for name in params for value in request.GET.getlist(name)])
        address = f"{request.scheme}://{request.get_host()}{request.path}?{query}"
        key = "page:" + hashlib.sha256(address.encode()).hexdigest()

        def render() -> tuple[bytes, dict[str, str]]:
            response = view(request, *args, **kwargs)
            if hasattr(response, "render"):
                response.render()
            if response.status_code != 200 or response.streaming or response.cookies:
                raise _NotCacheable(response)
            return response.content, dict(response.headers)

        try:
            content, headers = tier_get_or_set("content", key, render)
        except _NotCacheable as passed_on:
            return passed_on.response
        response = HttpResponse(content)
        for name, value in headers.items():
            response.headers[name] = value
        # Shareable as it stands: the edge cache (contentpipeline.edge_cache) may
        # answer the next reader with it before Django; the header goes no further.
        response.headers["X-Page-Cache"] = "content"
        return response

    return wrapped


def reading_minutes(markdown: str) -> int:
    return max(1, round(word_count(markdown) / WORDS_PER_MINUTE))


def related_posts(post: Post, *, limit: int = RELATED_POSTS) -> list[Post]:
    """Up to `limit` other published posts: those sharing the most tags first, then
    the most similar by full-text search, then the same category's, then the newest.
    At most three queries."""
    # How many of this post's tags each candidate shares, counted in PostgreSQL.
    shared = RawSQL(
        "cardinality(ARRAY(SELECT unnest(publishing_post.tag_slugs)"
        " INTERSECT SELECT unnest(%s::varchar[])))",
        (list(post.tag_slugs),),
        output_field=IntegerField(),
    )
    same_category = (
        Case(
            When(category_slug=post.category_slug, then=Value(1)),
            default=Value(0),
            output_field=IntegerField(),
        )
        if post.category_slug
        else Value(0, output_field=IntegerField())
    )
    candidates = post_list_public().exclude(pk=post.pk).defer(*LIST_FIELDS)
    found = list(
        candidates.annotate(shared=shared)
        .filter(shared__gt=0)
        .order_by("-shared", "-published_at", "-id")[:limit]
    )
    if len(found) < limit:
        exclude = [post.pk, *(p.pk for p in found)]
        found += post_similar(post=post, exclude=exclude, limit=limit - len(found))
    if len(found) < limit:
        rest = candidates.exclude(pk__in=[p.pk for p in found]).annotate(
            same_category=same_category
        )
        found += list(rest.order_by("-same_category", "-published_at", "-id")[: limit - len(found)])
    return found[:limit]


class PostListView(ListView):
    template_name = "publishing/post_list.html"
    context_object_name = "posts"
    paginate_by = 10

    def get_queryset(self):
        return post_list_public().defer(*LIST_FIELDS)


class PostDetailView(DetailView):
    template_name = "publishing/post_detail.html"
    context_object_name = "post"

    def get_object(self, queryset=None) -> Post:
        try:
            return post_list_public().get(slug=self.kwargs["slug"])
        except Post.DoesNotExist as exc:
            raise Http404("No such post") from exc

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        post, request = self.object, self.request
        context.update(
            reading_minutes=reading_minutes(post.body_markdown),
            tag_links=[(name, slugify(name)) for name in post.tags if slugify(name)],
            related_posts=related_posts(post),
            canonical_url=request.build_absolute_uri(post.get_absolute_url()),
            og_image=request.build_absolute_uri(post.image_url) if post.image_url else "",
            sources=post_sources_for_page(post),
            provenance=post_disclosure(post),
        )
        return context


class FilteredPostListView(ListView):
    """A paginated list of the published posts that match; 404 when none do."""

    template_name = "publishing/post_filtered.html"
    context_object_name = "posts"
    paginate_by = 10
    allow_empty = False

    def get_queryset(self):
        return post_list_public().defer(*LIST_FIELDS)

    def heading(self, first: Post) -> str:
        raise NotImplementedError

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["heading"] = self.heading(context["posts"][0])
        context["canonical_url"] = self.request.build_absolute_uri(self.request.path)
        return context


class TagPostListView(FilteredPostListView):
    def get_queryset(self):
        return super().get_queryset().filter(tag_slugs__contains=[self.kwargs["tag_slug"]])

    def heading(self, first: Post) -> str:
        slug = self.kwargs["tag_slug"]
        name = next((tag for tag in first.tags if slugify(tag) == slug), slug)
        return f"Tagged “{name}”"


class CategoryPostListView(FilteredPostListView):
    def get_queryset(self):
        return super().get_queryset().filter(category_slug=self.kwargs["category_slug"])

    def heading(self, first: Post) -> str:
        return first.category or self.kwargs["category_slug"]


class MonthPostListView(FilteredPostListView):
    def get_queryset(self):
        year, month = self.kwargs["year"], self.kwargs["month"]
        if not (1 <= year <= 9999 and 1 <= month <= 12):
            raise Http404("No such month")
        return super().get_queryset().filter(published_at__year=year, published_at__month=month)

    def heading(self, first: Post) -> str:
        return f"Posts from {date(self.kwargs['year'], self.kwargs['month'], 1):%B %Y}"


class ArchiveView(TemplateView):
    """Every published post, grouped by month, newest first."""

    template_name = "publishing/archive.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        posts = post_list_public().only("slug", "title", "published_at")
        by_month = groupby(
            posts.order_by("-published_at", "-id"),
            key=lambda post: timezone.localtime(post.published_at).date().replace(day=1),
        )
        months = [{"date": first_day, "posts": list(group)} for first_day, group in by_month]
        context["months"] = months
        context["canonical_url"] = self.request.build_absolute_uri(self.request.path)
        return context


CACHE_CONTROL = {"public": "public, max-age=3600", "private": "private, no-store"}


def _request_user(request):
    """The session user, or the user of an `Authorization: Token` header (API clients
    fetch a draft's `image_url` that way)."""
    if request.user.is_authenticated:
        return request.user
    try:
        found = TokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        return None
    return found[0] if found else None


def _media_access(user, path: str) -> str | None:
    """media_access, remembered: a reader's answer in the content tier (publishing or
    unpublishing the post changes it), a signed-in user's in the user tier (5 min;
    also under the content version)."""
    if user is None:
        return tier_get_or_set(
            "content", f"media:{path}", lambda: media_access(user=None, path=path)
        )
    return tier_get_or_set(
        "user", f"media:{user.pk}:{path}", lambda: media_access(user=user, path=path)
    )


def media(request, path: str):
    """Cover images: a published post's for anyone, a draft's only for the task's owner
    and editors (404 for everyone else, so a guessed id tells nothing). A CDN or object
    storage would serve published covers in a larger set-up."""
    access = _media_access(_request_user(request), path)
    if access is None:
        raise Http404("No such file")
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    response["Cache-Control"] = CACHE_CONTROL[access]
    return response
