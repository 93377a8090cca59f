"""Reads of posts."""

import re

from django.conf import settings
from django.db.models import QuerySet

from contentpipeline.errors import NotFound
from contentpipeline.roles import is_editor
from tasks.models import Status
from tasks.selectors import task_readable_by

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
