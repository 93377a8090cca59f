"""The approval workflow's actions on posts over the API: reverting a post to one of
its versions (editors only).

Revert restores a version's text and metadata as a new version, through `post_revert`
(the same action as the admin's revert), and answers 200 with the post. A post not
live yet (scheduled) was approved as it stood, so a revert that changes its text
withdraws it and sends the restored text back to the task's draft, awaiting approval
again: that answers 202 with `{detail, status: "awaiting_approval", task_id}` (the
revert took place; the post is off until an editor approves the text again). The
versions themselves are publishing's routes (publishing/api/versions.py)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from publishing.api.posts import PostSerializer
from publishing.api.versions import ERRORS, VERSION_ID, EditorsOnly, VersionErrorSerializer
from publishing.selectors import post_version_get

from ..services import post_revert


class RevertPendingSerializer(serializers.Serializer):
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
