"""Reads of posts."""

from django.db.models import QuerySet

from contentpipeline.errors import NotFound
from contentpipeline.roles import is_editor

from .models import Post


def post_list_public() -> QuerySet[Post]:
    return Post.objects.published()


def post_get_for_user(*, slug: str, user=None) -> Post:
    """A published post; editors may also read scheduled ones."""
    qs = Post.objects.all() if user is not None and is_editor(user) else Post.objects.published()
    try:
        return qs.get(slug=slug)
    except Post.DoesNotExist as exc:
        raise NotFound("Post not found.") from exc
