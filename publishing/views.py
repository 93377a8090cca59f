"""The public site: published posts only (and their covers)."""

from django.conf import settings
from django.http import Http404
from django.views.generic import DetailView, ListView
from django.views.static import serve
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from .models import Post
from .selectors import media_access, post_list_public


class PostListView(ListView):
    template_name = "publishing/post_list.html"
    context_object_name = "posts"
    paginate_by = 10

    def get_queryset(self):
        return post_list_public()


class PostDetailView(DetailView):
    template_name = "publishing/post_detail.html"
    context_object_name = "post"

    def get_object(self, queryset=None) -> Post:
        try:
            return post_list_public().get(slug=self.kwargs["slug"])
        except Post.DoesNotExist as exc:
            raise Http404("No such post") from exc


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


def media(request, path: str):
    """Cover images: a published post's for anyone, a draft's only for the task's owner
    and editors (404 for everyone else, so a guessed id tells nothing). A CDN or object
    storage would serve published covers in a larger set-up."""
    access = media_access(user=_request_user(request), path=path)
    if access is None:
        raise Http404("No such file")
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    response["Cache-Control"] = CACHE_CONTROL[access]
    return response
