"""REST interface of approvals."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from contentpipeline.roles import IsEditor

from .services import approval_decide


class ApprovalRequestSerializer(serializers.Serializer):
    approved = serializers.BooleanField()
    feedback = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    publish_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    regenerate = serializers.BooleanField(required=False, default=False)


class ApprovalResponseSerializer(serializers.Serializer):
    task_id = serializers.UUIDField()
    approval_status = serializers.CharField()
    reviewer = serializers.CharField()
    feedback = serializers.CharField()
    timestamp = serializers.DateTimeField()
    post = serializers.DictField(allow_null=True)


class TaskApprovalView(APIView):
    """Approve or reject a draft awaiting approval (editors only)."""

    permission_classes = [IsAuthenticated, IsEditor]

    @extend_schema(request=ApprovalRequestSerializer, responses={200: ApprovalResponseSerializer})
    def post(self, request, pk):
        serializer = ApprovalRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        decision, post = approval_decide(
            task_id=pk, reviewer=request.user, **serializer.validated_data
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
        }
        return Response(ApprovalResponseSerializer(body).data)
