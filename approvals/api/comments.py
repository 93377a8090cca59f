"""REST interface of comments on a draft: editors add comments on a passage (and
replies) and resolve them; the task's owner reads them. Through
`approvals.services.comments`, as the review desk."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ..models import DraftComment
from ..selectors import comment_list_for_task
from ..services.comments import comment_add, comment_resolve


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)
    parent = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The comment a reply answers; null."
    )
    draft_version = serializers.IntegerField(
        read_only=True,
        help_text="The version of the draft it was made on: the number of editors' saved "
        "edits of that generation's draft (0: the pipeline's text).",
    )

    class Meta:
        model = DraftComment
        fields = ["id", "quote", "body", "author", "parent", "resolved", "created_at",
                  "draft_version", "generation"]  # fmt: skip


class CommentRequestSerializer(serializers.Serializer):
    # The service checks lengths, NUL bytes and the quote against the draft; these
    # bounds keep an absurd body from being read into a form at all.
    quote = serializers.CharField(
        required=False, allow_blank=True, default="", trim_whitespace=False,
        max_length=DraftComment.MAX_QUOTE,
        help_text="The passage commented on, as it reads in the draft now (required "
        "unless `parent`); at most 1000 characters.",
    )  # fmt: skip
    body = serializers.CharField(
        max_length=DraftComment.MAX_BODY, help_text="1 to 5000 characters."
    )
    parent = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=2**63 - 1,
        help_text="A reply: the id of the comment it answers (no quote then).",
    )  # fmt: skip


class CommentErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


TASK_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)
ERRORS = {
    401: OpenApiResponse(CommentErrorSerializer, description="Not authenticated."),
    403: OpenApiResponse(
        CommentErrorSerializer, description="Not an editor (the owner only reads comments)."
    ),
    404: OpenApiResponse(CommentErrorSerializer, description="No such task (or comment)."),
}


class TaskCommentsView(GenericAPIView):
    """The comments on a task's drafts, oldest first, replies among them (`parent`):
    for editors and the task's owner. Editors add one."""

    permission_classes = [IsAuthenticated]
    serializer_class = CommentSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema's look at the view
            return DraftComment.objects.none()
        return comment_list_for_task(user=self.request.user, task_id=self.kwargs["pk"])

    @extend_schema(
        parameters=[TASK_ID],
        responses={200: CommentSerializer(many=True), 401: ERRORS[401], 404: ERRORS[404]},
    )
    def get(self, request, pk):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(CommentSerializer(page, many=True).data)

    @extend_schema(
        parameters=[TASK_ID],
        request=CommentRequestSerializer,
        responses={
            201: CommentSerializer,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Field errors, or `detail`: an empty or too long body, NUL "
                "bytes, a quote not in the draft's current text, a reply with a quote.",
            ),
            **ERRORS,
            409: OpenApiResponse(CommentErrorSerializer, description="The task has no draft."),
        },
    )
    def post(self, request, pk):
        serializer = CommentRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        comment = comment_add(task_id=pk, author=request.user, body=data["body"],
                              quote=data["quote"], parent_id=data["parent"])  # fmt: skip
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class TaskCommentResolveView(APIView):
    """Resolve a comment (editors, and its author)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[TASK_ID, OpenApiParameter("cid", OpenApiTypes.INT, OpenApiParameter.PATH)],
        request=None,
        responses={
            200: CommentSerializer,
            400: OpenApiResponse(CommentErrorSerializer, description="A reply, not a comment."),
            **ERRORS,
            409: OpenApiResponse(CommentErrorSerializer, description="Resolved already."),
        },
    )
    def post(self, request, pk, cid):
        comment = comment_resolve(task_id=pk, comment_id=cid, user=request.user)
        return Response(CommentSerializer(comment).data)
