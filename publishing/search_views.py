"""The search page of the public site: `/search/?q=&page=`, ten results a page,
throttled as the search API is."""

from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.generic import TemplateView
from rest_framework.settings import api_settings

from .search import MAX_RANKED, InvalidSearch, post_search

PAGE_SIZE = 10
# Far past any real result list; a larger number is a 404 like any page past the end.
MAX_PAGE = 100_000


def _page_number(raw: str | None) -> int:
    if raw is None or raw == "":
        return 1
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise Http404("No such page")
    return int(raw)


def _throttle_wait(request: HttpRequest, view) -> int | None:
    """None if the request may go on, else the seconds to wait. The API's own throttles
    (DEFAULT_THROTTLE_CLASSES), so the page and GET /api/posts/search share one budget
    under the same scopes and rates: an anonymous client's counted by its address (the
    nearest of NUM_PROXIES proxies' view of it), a user's by their account. Counted in
    Redis; with Redis unreachable the page is served unthrottled, as the API is."""
    waits = []
    for throttle in (throttle_class() for throttle_class in api_settings.DEFAULT_THROTTLE_CLASSES):
        if not throttle.allow_request(request, view):
            waits.append(throttle.wait() or 1)
    return max(waits) if waits else None


class SearchView(TemplateView):
    """Published posts matching `q`, best first, with highlighted snippets; a query
    that found nothing shows the results of its corrected spelling, and says so. Past
    the rate limit: a 429 page with Retry-After."""

    template_name = "publishing/search.html"

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        query = request.GET.get("q", "").strip()
        context = self.get_context_data(
            query=query, results=[], total=0, estimated=False, corrected=None
        )
        wait = _throttle_wait(request, self)
        if wait is not None:
            context["error"] = f"Too many searches. Try again in {wait} seconds."
            response = self.render_to_response(context, status=429)
            response["Retry-After"] = str(wait)
            return response
        number = _page_number(request.GET.get("page"))
        if not query:  # the empty search form
            return self.render_to_response(context)
        try:
            found = post_search(query=query, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
        except InvalidSearch as exc:
            context["error"] = exc.message
            return self.render_to_response(context, status=400)
        if number > 1 and not found.results:
            raise Http404("No such page")
        num_pages = max(1, -(-min(found.total, MAX_RANKED) // PAGE_SIZE))
        context.update(
            total=found.total,
            estimated=found.estimated,
            corrected=found.corrected,
            corrected_url=self._address(found.corrected) if found.corrected else None,
            results=[
                {
                    "title": result.title,
                    "url": reverse("publishing:post_detail", kwargs={"slug": result.slug}),
                    "excerpt": result.excerpt,
                    "headline": result.headline,
                    "published_at": result.published_at,
                }
                for result in found.results
            ],
            page={
                "number": number,
                "num_pages": num_pages,
                "previous_url": self._address(query, number - 1) if number > 1 else None,
                "next_url": self._address(query, number + 1) if number < num_pages else None,
            },
        )
        return self.render_to_response(context)

    def _address(self, query: str, page: int = 1) -> str:
        params = {"q": query, **({"page": page} if page > 1 else {})}
        return f"{self.request.path}?{urlencode(params)}"
