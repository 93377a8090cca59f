"""The public site: published posts only."""

from django.http import Http404
from django.views.generic import DetailView, ListView

from .models import Post
from .selectors import post_list_public


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
