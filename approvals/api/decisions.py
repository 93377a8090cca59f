"""REST interface of decisions: an editor approves, rejects or requests changes to a
draft awaiting approval, through `approval_decide` (the review desk's and the command's
service too)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from contentpipeline.throttling import client_ip
from tasks.serializers import ClaimSerializer

from ..services import approval_decide


class ApprovalRequestSerializer(serializers.Serializer):
    approved = serializers.BooleanField()
    feedback = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    publish_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    regenerate = serializers.BooleanField(required=False, default=False)
    expected_content_hash = serializers.RegexField(
        r"^[0-9a-fA-F]{64}$",
        required=False,
        allow_null=True,
        default=None,
        error_messages={"invalid": "A content hash is 64 hexadecimal characters (sha256)."},
        help_text="The task's `result.content_hash` as you read the draft: the decision is "
        "made only if the draft is still that text (409, nothing decided, otherwise). "
        "Without it, the current text is decided.",
    )

    acknowledge_unsupported = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Approve although the draft has claims its sources do not support "
        "(`result.claims` with verdict `unsupported`): without it such an approval answers "
        "409 with the claims and decides nothing. The decision records the claims "
        "acknowledged. `unverifiable` claims never block.",
    )

    step = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        help_text="The workflow step you mean to decide (the task's `workflow.step` as you "
        "read it): the decision is made only if the draft is still at that step (409 "
        "otherwise). Without it, the current step is decided.",
    )

    def validate_expected_content_hash(self, value: str | None) -> str | None:
        return value.lower() if value else value


class ApprovalResponseSerializer(serializers.Serializer):
    task_id = serializers.UUIDField()
    approval_status = serializers.CharField()
    reviewer = serializers.CharField()
    feedback = serializers.CharField()
    timestamp = serializers.DateTimeField()
    post = serializers.DictField(allow_null=True)
    step = serializers.IntegerField(help_text="The workflow step decided (1-based).")
    step_name = serializers.CharField()


class ApprovalConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    status = serializers.CharField(required=False, help_text="The task's status now.")
    content_hash = serializers.CharField(
        required=False,
        help_text="When the draft changed since `expected_content_hash`: the current text's "
        "hash, to send once the current text has been read.",
    )
    claims = ClaimSerializer(
        many=True,
        required=False,
        help_text="When the draft has unsupported claims and `acknowledge_unsupported` was "
        "not sent: those claims.",
    )
    step = serializers.IntegerField(
        required=False,
        help_text="When the draft is at another workflow step than `step`, or the same "
        "reviewer approved an earlier step: the step the draft is at.",
    )


class TaskApprovalView(APIView):
    """Approve or reject the current workflow step of a draft awaiting approval (the
    members of that step's group; the service says who may)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=ApprovalRequestSerializer,
        responses={
            200: ApprovalResponseSerializer,
            409: OpenApiResponse(
                ApprovalConflictSerializer,
                description="Nothing was decided: the task is not awaiting approval, or its "
                "draft is no longer the text `expected_content_hash` names (someone edited "
                "it since; `content_hash` is the current one), or an approval did not "
                "acknowledge the draft's unsupported claims (`claims` lists them), or the "
                "draft is at another step than `step`, or you approved an earlier step of "
                "this draft and its workflow needs someone else.",
            ),
            403: OpenApiResponse(
                description="You are not in the group that decides the draft's current "
                "workflow step (the message names the step)."
            ),
        },
    )
    def post(self, request, pk):
        serializer = ApprovalRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        decision, post = approval_decide(
            task_id=pk,
            reviewer=request.user,
            request_ip=client_ip(request),
            **serializer.validated_data,
        )
        post_body = None
        if post is not None:
            post_body = {
                "slug": post.slug,
                "url": request.build_absolute_uri(post.get_absolute_url()),
                "published_at": post.published_at,
            }
        body = {
            "task_id": decision.task_id,
            "approval_status": decision.decision,
            "reviewer": decision.reviewer.get_username(),
            "feedback": decision.feedback,
            "timestamp": decision.created_at,
            "post": post_body,
            "step": decision.step,
            "step_name": decision.step_name,
        }
        return Response(ApprovalResponseSerializer(body).data)
