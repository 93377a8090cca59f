"""The approval workflow's actions on posts over the API: changing a post (PATCH),
taking it down and putting it back (editors and publishers), and reverting it to one
of its versions (editors only). Each calls the same action as the admin.

PATCH /api/posts/{slug} saves the changes as a new version with who and why
(`change_reason`) through `post_change` (the admin's `post_edit`), and answers 200 with
the post. Changing the text of a post not live yet re-opens its approval, as a revert
does (below): 202. `publish_at` reschedules a scheduled post (409 for any other);
`expire_at` sets (null: clears) the date the post goes off the site. The post's own
path is publishing's route: this app provides the viewset it is served by at start-up
(PostManageViewSet, publishing's PostViewSet with PATCH; approvals/apps.py).

Revert restores a version's text and metadata as a new version, through `post_revert`
(the same action as the admin's revert), and answers 200 with the post. A post not
live yet (scheduled) was approved as it stood, so a revert that changes its text
withdraws it and sends the restored text back to the task's draft, awaiting approval
again: that answers 202 with `{detail, status: "awaiting_approval", task_id}` (the
revert took place; the post is off until an editor approves the text again). The
versions themselves are publishing's routes (publishing/api/versions.py)."""

from collections.abc import Mapping

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from contentpipeline.errors import InvalidTransition
from contentpipeline.roles import ManagesPosts
from publishing.api.posts import PostDetailSerializer, PostSerializer, PostViewSet
from publishing.api.versions import ERRORS, VERSION_ID, EditorsOnly, VersionErrorSerializer
from publishing.models import Post
from publishing.selectors import post_get_for_user, post_version_get

from ..services import post_change, post_republish, post_revert, post_unpublish

# Version reasons are at most this long (simple-history's column).
MAX_REASON = 100
# As a draft's edit is held (tasks.services.drafts): a post's text is the draft's.
MAX_EXCERPT, MAX_BODY, MAX_TAGS = 1000, 200_000, 10


class RevertPendingSerializer(serializers.Serializer):
    """A change (a revert, a PATCH) of a scheduled post's text: the post is withdrawn and
    the text awaits approval again."""

    detail = serializers.CharField()
    status = serializers.CharField(help_text="`awaiting_approval`")
    task_id = serializers.UUIDField()


class PostVersionRevertView(EditorsOnly, APIView):
    """Restore this version's text and metadata as a new version of the post."""

    @extend_schema(
        operation_id="posts_versions_revert",
        parameters=[VERSION_ID],
        request=None,
        responses={
            200: OpenApiResponse(PostSerializer, description="Reverted: the post as it is now."),
            202: OpenApiResponse(
                RevertPendingSerializer,
                description="The post was scheduled, not live yet: reverting its text "
                "withdrew it, and the restored text awaits approval again.",
            ),
            **ERRORS,
            409: OpenApiResponse(
                VersionErrorSerializer, description="The post's task does not allow it now."
            ),
        },
    )
    def post(self, request, slug, version_id):
        post = self.get_post()
        version = post_version_get(post=post, version_id=version_id)
        reverted = post_revert(post=post, version_id=version.history_id, user=request.user)
        if reverted is None:
            body = {
                "detail": f"Reverted to version {version.history_id}. The post was not live "
                "yet, so it is withdrawn and the restored text awaits approval again.",
                "status": "awaiting_approval",
                "task_id": post.task_id,
            }
            return Response(RevertPendingSerializer(body).data, status=status.HTTP_202_ACCEPTED)
        return Response(PostSerializer(reverted, context={"request": request}).data)


# --- Managing posts: PATCH, unpublish, publish (editors and publishers) -------------------


class PostChangeSerializer(serializers.Serializer):
    """What PATCH may change; at least one field besides `change_reason`, and no other."""

    title = serializers.CharField(max_length=200, required=False)
    excerpt = serializers.CharField(max_length=MAX_EXCERPT, required=False, allow_blank=True)
    body_markdown = serializers.CharField(
        max_length=MAX_BODY,
        required=False,
        help_text="Markdown; the post's HTML is rendered from it and sanitized.",
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50),
        max_length=MAX_TAGS,
        required=False,
        help_text=f"At most {MAX_TAGS}, each at most 50 characters; kept lowercase, once each.",
    )
    category = serializers.CharField(max_length=100, required=False, allow_blank=True)
    seo_title = serializers.CharField(max_length=60, required=False, allow_blank=True)
    meta_description = serializers.CharField(max_length=160, required=False, allow_blank=True)
    publish_at = serializers.DateTimeField(
        required=False,
        help_text="A scheduled post's new publication time, in the future (409 for a post "
        "that is live or unpublished).",
    )
    expire_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="When the post goes off the site: in the future, after its publication; "
        "null removes it.",
    )
    change_reason = serializers.CharField(
        max_length=MAX_REASON,
        required=False,
        allow_blank=True,
        help_text="Why: the new version's reason (default: `edited over the API`).",
    )

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Not a field of a post that can be changed."] for name in unknown}
                )
        return super().to_internal_value(data)

    def validate_tags(self, tags: list[str]) -> list[str]:
        return list(dict.fromkeys(tag.strip().lower() for tag in tags if tag.strip()))

    def validate_publish_at(self, value):
        if value <= timezone.now():
            raise serializers.ValidationError("A post is rescheduled to a time to come.")
        return value

    def validate_expire_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("The expiry date is in the past.")
        return value

    def validate(self, attrs):
        if not set(attrs) - {"change_reason"}:
            raise serializers.ValidationError(
                "Nothing to change: send at least one of "
                + ", ".join(name for name in self.fields if name != "change_reason")
                + "."
            )
        post: Post = self.context["post"]
        expire_at = attrs.get("expire_at")
        published_at = attrs.get("publish_at", post.published_at)
        if expire_at is not None and expire_at <= published_at:
            raise serializers.ValidationError(
                {"expire_at": ["The expiry date comes after the publication."]}
            )
        return attrs


class PostActionSerializer(serializers.Serializer):
    change_reason = serializers.CharField(
        max_length=MAX_REASON,
        required=False,
        allow_blank=True,
        help_text="Why: the new version's reason (default: who did it).",
    )

    def to_internal_value(self, data):
        if isinstance(data, Mapping) and set(data) - {"change_reason"}:
            raise serializers.ValidationError(
                {name: ["Unknown field."] for name in sorted(set(data) - {"change_reason"})}
            )
        return super().to_internal_value(data)


MANAGE_ERRORS = {
    400: OpenApiResponse(
        description="A field out of bounds, an unknown field (field errors: the field's "
        "name and its messages), or nothing to change (`non_field_errors`)."
    ),
    401: OpenApiResponse(VersionErrorSerializer, description="Not authenticated."),
    403: OpenApiResponse(
        VersionErrorSerializer, description="Authenticated, but neither editor nor publisher."
    ),
    404: OpenApiResponse(VersionErrorSerializer, description="No post with this slug."),
    413: OpenApiResponse(VersionErrorSerializer, description="The request body is too large."),
}


def _managed_post(request, slug: str) -> Post:
    # Editors and publishers read posts in any state: live, scheduled, unpublished.
    return post_get_for_user(slug=slug, user=request.user)


class PostManageViewSet(PostViewSet):
    """Posts as publishing's PostViewSet serves them (GET, for anyone), and a post's
    changes (PATCH, editors and publishers)."""

    http_method_names = ["get", "patch", "head", "options"]

    def get_permissions(self):
        if self.action == "partial_update":
            return [IsAuthenticated(), ManagesPosts()]
        return [AllowAny()]

    @extend_schema(
        operation_id="posts_partial_update",
        request=PostChangeSerializer,
        responses={
            200: OpenApiResponse(
                PostDetailSerializer, description="Changed: the post as it is now."
            ),
            202: OpenApiResponse(
                RevertPendingSerializer,
                description="The post was scheduled, not live yet: changing its text "
                "withdrew it, and the changed text awaits approval again.",
            ),
            **MANAGE_ERRORS,
            409: OpenApiResponse(
                VersionErrorSerializer,
                description="`publish_at` for a post that is not scheduled (live or "
                "unpublished), or the post's task does not allow the change now.",
            ),
        },
    )
    def partial_update(self, request, slug=None):
        post = _managed_post(request, slug)
        changes = PostChangeSerializer(data=request.data, context={"post": post})
        changes.is_valid(raise_exception=True)
        data = dict(changes.validated_data)
        reason = data.pop("change_reason", "") or "edited over the API"
        if "publish_at" in data:
            if post.unpublished_at is not None or post.is_live:
                state = "unpublished" if post.unpublished_at is not None else "published"
                raise InvalidTransition(
                    f"Only a scheduled post is rescheduled; this one is {state}.",
                    extra={"status": state},
                )
            data["published_at"] = data.pop("publish_at")
        changed = post_change(post=post, user=request.user, changes=data, reason=reason)
        if changed is None:
            body = {
                "detail": "The post was not live yet, so changing its text withdrew it: the "
                "changed text awaits approval again.",
                "status": "awaiting_approval",
                "task_id": post.task_id,
            }
            return Response(RevertPendingSerializer(body).data, status=status.HTTP_202_ACCEPTED)
        return Response(PostDetailSerializer(changed, context={"request": request}).data)


class _PostActionView(APIView):
    permission_classes = [IsAuthenticated, ManagesPosts]
    # post_unpublish or post_republish
    service = None

    def post(self, request, slug):
        post = _managed_post(request, slug)
        body = PostActionSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        reason = body.validated_data.get("change_reason", "")
        done = self.service(post=post, user=request.user, reason=reason)
        return Response(PostDetailSerializer(done, context={"request": request}).data)


ACTION_RESPONSES = {
    **MANAGE_ERRORS,
    400: OpenApiResponse(description="An unknown field or a reason too long (field errors)."),
}


class PostUnpublishView(_PostActionView):
    """Take the post off the site at once (a new version); its task goes back from
    published to approved."""

    service = staticmethod(post_unpublish)

    @extend_schema(
        operation_id="posts_unpublish",
        request=PostActionSerializer,
        responses={
            200: OpenApiResponse(PostDetailSerializer, description="The post, unpublished."),
            **ACTION_RESPONSES,
            409: OpenApiResponse(VersionErrorSerializer, description="Already unpublished."),
        },
    )
    def post(self, request, slug):
        return super().post(request, slug)


class PostRepublishView(_PostActionView):
    """Put an unpublished post back on the site (a new version): live from now, or at
    its scheduled time if that is later; its task published again once it is live."""

    service = staticmethod(post_republish)

    @extend_schema(
        operation_id="posts_publish",
        request=PostActionSerializer,
        responses={
            200: OpenApiResponse(PostDetailSerializer, description="The post, published."),
            **ACTION_RESPONSES,
            409: OpenApiResponse(
                VersionErrorSerializer, description="Not unpublished (live or scheduled)."
            ),
        },
    )
    def post(self, request, slug):
        return super().post(request, slug)
