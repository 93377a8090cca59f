"""REST interface of plan decisions: an editor approves (perhaps edited) or sends back
the plan of a task awaiting it, through `plan_decide` (the review desk's service too)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from contentpipeline.roles import IsEditor
from contentpipeline.throttling import client_ip
from tasks.pipeline.plan import MAX_SECTIONS
from tasks.selectors import task_get_for_user
from tasks.serializers import PlanSectionSerializer, TaskSerializer

from ..services import plan_decide


class PlanDecisionRequestSerializer(serializers.Serializer):
    approved = serializers.BooleanField(
        help_text="true: the draft is written to the plan; false: research again."
    )
    feedback = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=5000,
        help_text="Required when sending the plan back: the next research answers it.",
    )
    outline = PlanSectionSerializer(
        many=True,
        required=False,
        allow_null=True,
        default=None,
        min_length=1,
        max_length=MAX_SECTIONS,
        help_text="The plan as edited, replacing the proposed one (with an approval only).",
    )

    def validate(self, attrs):
        if not attrs["approved"] and not attrs["feedback"].strip():
            raise serializers.ValidationError(
                {"feedback": "Feedback is required when sending a plan back."}
            )
        return attrs


class PlanErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    status = serializers.CharField(required=False, help_text="The task's status now.")


class TaskPlanView(APIView):
    """Approve or send back the plan of a task awaiting it (editors only)."""

    permission_classes = [IsAuthenticated, IsEditor]

    @extend_schema(
        parameters=[OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        request=PlanDecisionRequestSerializer,
        responses={
            200: TaskSerializer,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Field errors: an outline that is not 1 to 12 sections, each a "
                "heading of 1 to 200 characters, a point of at most 1000 and source "
                "numbers; no feedback with a send-back.",
            ),
            401: OpenApiResponse(PlanErrorSerializer, description="Not authenticated."),
            403: OpenApiResponse(PlanErrorSerializer, description="Not an editor."),
            404: OpenApiResponse(PlanErrorSerializer, description="No such task."),
            409: OpenApiResponse(
                PlanErrorSerializer,
                description="Nothing was decided: the task is not awaiting its plan's "
                "approval (or another editor decided it first).",
            ),
        },
    )
    def post(self, request, pk):
        serializer = PlanDecisionRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        plan_decide(
            task_id=pk,
            reviewer=request.user,
            request_ip=client_ip(request),
            **serializer.validated_data,
        )
        task = task_get_for_user(user=request.user, task_id=pk)
        return Response(TaskSerializer(task, context={"request": request}).data)
