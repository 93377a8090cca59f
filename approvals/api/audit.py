"""REST interface of the audit trail: editors' decisions, listed or exported, and one
task's timeline."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from contentpipeline.roles import IsEditor
from tasks.serializers import ClaimSerializer

from ..exports import decisions_csv_response
from ..models import ApprovalDecision, Decision, PlanDecision
from ..selectors import CSV_HEADER, approval_list, task_timeline

# The `format` that asks for the export; `json` and `api` (the browsable API) stay DRF's.
EXPORT_FORMAT = "csv"


class AuditErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


ERRORS = {
    401: OpenApiResponse(AuditErrorSerializer, description="Not authenticated."),
    403: OpenApiResponse(AuditErrorSerializer, description="Authenticated, but not an editor."),
    404: OpenApiResponse(AuditErrorSerializer, description="No such task, or not yours."),
}


class ApprovalFilterSerializer(serializers.Serializer):
    task = serializers.UUIDField(required=False, help_text="Only this task's decisions.")
    reviewer = serializers.CharField(
        required=False, max_length=150, help_text="Only this reviewer's (exact username)."
    )
    decision = serializers.ChoiceField(choices=Decision.choices, required=False)
    since = serializers.DateTimeField(
        required=False, help_text="Decided at or after this instant (ISO 8601)."
    )
    until = serializers.DateTimeField(
        required=False, help_text="Decided before this instant (ISO 8601)."
    )
    format = serializers.ChoiceField(
        choices=["json", "api", EXPORT_FORMAT],
        required=False,
        help_text="`csv`: every matching decision (not one page) as a CSV attachment.",
    )

    def validate(self, attrs):
        since, until = attrs.get("since"), attrs.get("until")
        if since is not None and until is not None and since > until:
            raise serializers.ValidationError({"until": "Must not be before `since`."})
        return attrs


class ApprovalRecordSerializer(serializers.ModelSerializer):
    task_id = serializers.UUIDField(read_only=True)
    reviewer = serializers.SlugRelatedField(slug_field="username", read_only=True)
    claimed_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Who was reviewing the draft when it was decided; null if nobody.",
    )
    acknowledged_claims = ClaimSerializer(
        many=True,
        read_only=True,
        help_text="The unsupported claims an approval went ahead with "
        "(`acknowledge_unsupported`); empty when there were none.",
    )

    class Meta:
        model = ApprovalDecision
        fields = [
            "id",
            "task_id",
            "decision",
            "reviewer",
            "feedback",
            "created_at",
            "generation",
            "round",
            "step",
            "step_name",
            "content_hash",
            "claimed_by",
            "publish_at",
            "acknowledged_claims",
        ]


class ApprovalListView(GenericAPIView):
    """The audit trail of editors' decisions, newest first (editors only): a page of
    JSON, or with `?format=csv` every matching decision as a streamed CSV file."""

    permission_classes = [IsAuthenticated, IsEditor]
    serializer_class = ApprovalRecordSerializer
    filter_backends = []  # the filters are ApprovalFilterSerializer's, validated
    filters: dict = {}

    def get_queryset(self):
        # The browsable API asks for it too (its filter form), not only `get`.
        return approval_list(**self.filters)

    def perform_content_negotiation(self, request, force=False):
        # DRF reads `format` as a renderer's name and answers 404 for any other. Here
        # `csv` is the export, which streams past the renderers, and anything else is a
        # filter value for ApprovalFilterSerializer to refuse (400). Either way an
        # answer that is not the export (an error) is JSON.
        requested = request.query_params.get(api_settings.URL_FORMAT_OVERRIDE)
        renderers = self.get_renderers()
        if requested and requested not in {renderer.format for renderer in renderers}:
            json_renderer = next(r for r in renderers if isinstance(r, JSONRenderer))
            return json_renderer, json_renderer.media_type
        return super().perform_content_negotiation(request, force=force)

    @extend_schema(
        parameters=[
            ApprovalFilterSerializer,
            # `api` (DRF's browsable API, HTML for people) works too, but the schema
            # describes the JSON API and its export.
            OpenApiParameter(
                "format",
                enum=["json", EXPORT_FORMAT],
                description="`csv`: every matching decision (not one page) as a CSV attachment.",
            ),
        ],
        responses={
            (200, "application/json"): ApprovalRecordSerializer(many=True),
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="With `format=csv`: a header row, then one row per decision: "
                + ", ".join(CSV_HEADER),
            ),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="A filter's field errors."),
            401: ERRORS[401],
            403: ERRORS[403],
        },
    )
    def get(self, request):
        filters = ApprovalFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        self.filters = dict(filters.validated_data)
        export = self.filters.pop("format", None) == EXPORT_FORMAT
        queryset = self.get_queryset()
        if export:
            return decisions_csv_response(request, queryset)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class TimelineStatusSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="`status`")
    at = serializers.DateTimeField()
    status = serializers.CharField()
    stage = serializers.CharField()
    progress = serializers.IntegerField()
    who = serializers.CharField(allow_null=True, help_text="Username; `system` for the pipeline.")
    why = serializers.CharField(allow_blank=True)
    what = serializers.ChoiceField(
        choices=["+", "~", "-"], help_text="Created (+), changed (~) or deleted (-)."
    )


class TimelineStageRunSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="`stage_run`")
    at = serializers.DateTimeField(help_text="When the attempt started.")
    stage = serializers.CharField()
    generation = serializers.IntegerField()
    attempt = serializers.IntegerField()
    status = serializers.CharField()
    model = serializers.CharField(allow_blank=True)
    cost = serializers.CharField(help_text="USD, as a decimal string.")
    finished_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_blank=True)


class TimelineDecisionSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="`decision`")
    at = serializers.DateTimeField()
    decision = serializers.ChoiceField(choices=Decision.choices)
    reviewer = serializers.CharField()
    feedback = serializers.CharField(allow_blank=True)
    generation = serializers.IntegerField()
    round = serializers.IntegerField()
    step = serializers.IntegerField()
    step_name = serializers.CharField()
    publish_at = serializers.DateTimeField(allow_null=True)
    content_hash = serializers.CharField(allow_blank=True)
    claimed_by = serializers.CharField(allow_null=True)


class TimelinePlanSectionSerializer(serializers.Serializer):
    heading = serializers.CharField()
    point = serializers.CharField(allow_blank=True)
    sources = serializers.ListField(child=serializers.IntegerField())


class TimelinePlanDecisionSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="`plan_decision`")
    at = serializers.DateTimeField()
    decision = serializers.ChoiceField(choices=PlanDecision.Verdict.choices)
    reviewer = serializers.CharField()
    feedback = serializers.CharField(allow_blank=True)
    generation = serializers.IntegerField(help_text="The generation whose plan was decided.")
    outline = TimelinePlanSectionSerializer(many=True, help_text="The plan as decided.")


class TimelinePostVersionSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="`post_version`")
    at = serializers.DateTimeField()
    who = serializers.CharField(allow_null=True)
    why = serializers.CharField(allow_blank=True)
    what = serializers.ChoiceField(choices=["+", "~", "-"])
    slug = serializers.CharField()
    title = serializers.CharField()
    published_at = serializers.DateTimeField(help_text="Live from then (may be scheduled).")


TIMELINE_EVENT_SERIALIZERS = {
    "status": TimelineStatusSerializer,
    "stage_run": TimelineStageRunSerializer,
    "decision": TimelineDecisionSerializer,
    "plan_decision": TimelinePlanDecisionSerializer,
    "post_version": TimelinePostVersionSerializer,
}


class TaskHistorySerializer(serializers.Serializer):
    task_id = serializers.UUIDField()
    events = PolymorphicProxySerializer(
        component_name="TimelineEvent",
        serializers=TIMELINE_EVENT_SERIALIZERS,
        resource_type_field_name="kind",
        many=True,
    )


class TaskHistoryView(APIView):
    """A task's timeline, oldest first (owner or editor): status changes (who, when,
    why), stage runs, editors' decisions on its drafts and plans, and the versions of
    its post."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        responses={200: TaskHistorySerializer, 401: ERRORS[401], 404: ERRORS[404]},
    )
    def get(self, request, pk):
        events = task_timeline(user=request.user, task_id=pk)
        body = {
            "task_id": str(pk),
            # PolymorphicProxySerializer only documents; each event has its own serializer.
            "events": [TIMELINE_EVENT_SERIALIZERS[e["kind"]](e).data for e in events],
        }
        return Response(body)
