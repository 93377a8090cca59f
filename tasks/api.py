"""REST interface of content tasks: parse, authorize, call a service, serialize."""

import django_filters
from django.db.models import F
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from contentpipeline.throttling import ScopedRateThrottle

from . import services
from .interfaces import task_reviews
from .metrics import health, metrics_snapshot
from .models import ContentTask, Priority, Status, TaskType, Webhook
from .selectors import task_get_for_user, task_list_for_user, webhook_list_for_user
from .serializers import (
    OverlapConflictSerializer,
    TaskCreatedSerializer,
    TaskCreateSerializer,
    TaskSerializer,
    WebhookCreateSerializer,
    WebhookSerializer,
    overlaps_for_answer,
)
from .services.webhooks import webhook_create, webhook_delete


class TaskFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Status.choices)
    priority = django_filters.ChoiceFilter(choices=Priority.choices)
    task_type = django_filters.ChoiceFilter(choices=TaskType.choices)
    overdue = django_filters.BooleanFilter(
        method="filter_overdue",
        label="true: tasks awaiting review (a draft or a plan) past their due_at; "
        "false: all the others.",
    )

    def filter_overdue(self, queryset, name, value):
        overdue = ContentTask.objects.overdue(timezone.now()).values("pk")
        return queryset.filter(pk__in=overdue) if value else queryset.exclude(pk__in=overdue)

    waiting_for_my_groups = django_filters.BooleanFilter(
        method="filter_waiting_for_my_groups",
        label="Waiting for my groups: tasks awaiting approval whose current workflow step "
        "is decided by a group you are in.",
    )

    class Meta:
        model = ContentTask
        fields = ["status", "priority", "task_type", "waiting_for_my_groups"]

    def filter_waiting_for_my_groups(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(pk__in=task_reviews().waiting_for(self.request.user))


class TaskOrderingFilter(OrderingFilter):
    """DRF's ordering, with tasks without a due_at after those with one, whichever
    way `ordering=due_at` (soonest first) or `-due_at` goes; the newest first on a tie."""

    NULLS_LAST = {"due_at", "-due_at"}

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        if not ordering or not self.NULLS_LAST & set(ordering):
            return ordering
        terms = [
            (F(term[1:]).desc(nulls_last=True) if term.startswith("-")
             else F(term).asc(nulls_last=True)) if term in self.NULLS_LAST else term
            for term in ordering
        ]  # fmt: skip
        return [*terms, "-created_at"]


class BulkRequestSerializer(serializers.Serializer):
    task_ids = serializers.ListField(
        # Not UUIDField: a malformed id gets its own "not found" result like any other.
        child=serializers.CharField(max_length=64),
        min_length=1,
        max_length=500,
        allow_empty=False,
    )
    # The contract's actions; the admin may also retry in bulk.
    action = serializers.ChoiceField(choices=["cancel", "delete", "pause", "resume"])


class BulkResultSerializer(serializers.Serializer):
    task_id = serializers.CharField()
    ok = serializers.BooleanField()
    status = serializers.CharField(allow_null=True)
    error = serializers.CharField(allow_null=True)


class BulkResponseSerializer(serializers.Serializer):
    results = BulkResultSerializer(many=True)


class TaskViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    filter_backends = [DjangoFilterBackend, TaskOrderingFilter]
    ordering_fields = ["created_at", "updated_at", "priority", "status", "progress", "due_at"]
    ordering = ["-created_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation, no user
            return ContentTask.objects.none()
        return task_list_for_user(user=self.request.user).select_related("post")

    def get_object(self):
        return task_get_for_user(user=self.request.user, task_id=self.kwargs["pk"])

    def get_throttles(self):
        if self.action == "create":
            self.throttle_scope = "task_create"
            return [*super().get_throttles(), ScopedRateThrottle()]
        return super().get_throttles()

    @extend_schema(
        request=TaskCreateSerializer,
        responses={
            201: TaskCreatedSerializer,
            409: OpenApiResponse(
                OverlapConflictSerializer,
                description="`on_overlap: reject` and the task overlaps published posts or "
                "open tasks: nothing was created.",
            ),
        },
    )
    def create(self, request):
        serializer = TaskCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            task, overlaps = services.task_submit(user=request.user, **serializer.validated_data)
        except services.Overlapping as exc:
            body = {"detail": exc.message,
                    "overlaps": overlaps_for_answer(exc.extra["overlaps"], request)}  # fmt: skip
            return Response(body, status=status.HTTP_409_CONFLICT)
        task = task_get_for_user(user=request.user, task_id=task.pk)
        body = TaskSerializer(task, context={"request": request}).data
        body["overlaps"] = overlaps_for_answer(overlaps, request)
        return Response(body, status=status.HTTP_201_CREATED)

    def _transition(self, request, pk, service):
        task = service(user=request.user, task_id=pk)
        task = task_get_for_user(user=request.user, task_id=task.pk)
        return Response(TaskSerializer(task, context={"request": request}).data)

    @extend_schema(request=None, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._transition(request, pk, services.task_pause)

    @extend_schema(request=None, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._transition(request, pk, services.task_resume)

    @extend_schema(request=None, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._transition(request, pk, services.task_cancel)

    @extend_schema(request=None, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        return self._transition(request, pk, services.task_retry)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        services.task_delete(user=request.user, task_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=BulkRequestSerializer, responses={200: BulkResponseSerializer})
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        serializer = BulkRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        results = services.task_bulk(user=request.user, **serializer.validated_data)
        return Response({"results": results})


WEBHOOK_REQUESTS = (
    "Each status change of your tasks is POSTed to each of your active webhooks as JSON "
    "(`event`, `delivery_id`, `task_id`, `status`, `previous_status`, `stage`, `progress`, "
    "`message`, `error`, `timestamp`) with the headers `X-Webhook-Timestamp` (Unix seconds) "
    "and `X-Webhook-Signature: sha256=<hex>`, the HMAC-SHA256 keyed with the webhook's "
    "`secret` of `{timestamp}.{body}`. A 2xx answer within the timeout (5 s by default) "
    "delivers it; anything else is retried with exponential backoff (by default 8 attempts "
    "over about 21 minutes). The posts of your tasks are told the same way, signed alike: "
    "`post.published` (live), `post.updated` (a live post's new version) and "
    "`post.unpublished` (taken down; `reason` is `expired` at its expiry date), with "
    "`event`, `delivery_id`, `task_id`, `slug`, `title`, `url` (the public page), "
    "`published_at`, `expire_at`, `version_id`, `reason`, `timestamp`."
)


@extend_schema_view(
    list=extend_schema(summary="Your webhooks, with their secrets", description=WEBHOOK_REQUESTS)
)
class WebhookViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Your webhooks (editors too see only their own)."""

    serializer_class = WebhookSerializer
    filter_backends: list = []
    ordering = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation, no user
            return Webhook.objects.none()
        return webhook_list_for_user(user=self.request.user)

    @extend_schema(
        summary="Register a webhook",
        description="An http(s) URL whose host resolves to public addresses only; at most "
        "10 per user by default, each URL once. The answer holds the secret that signs "
        "its requests.\n\n" + WEBHOOK_REQUESTS,
        request=WebhookCreateSerializer,
        responses={201: WebhookSerializer},
    )
    def create(self, request):
        serializer = WebhookCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        webhook = webhook_create(user=request.user, **serializer.validated_data)
        return Response(WebhookSerializer(webhook).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Delete a webhook",
        description="With its deliveries: no attempt starts after this (one under way may "
        "still arrive).",
        responses={204: None},
    )
    def destroy(self, request, pk=None):
        webhook_delete(user=request.user, webhook_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MetricsView(APIView):
    """Tasks by status, queue depth by priority, success rate, stage durations, cost by
    stage and model, cache hit ratio (staff only)."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(metrics_snapshot())


class HealthSerializer(serializers.Serializer):
    database = serializers.CharField(help_text="`ok`, or `error` (staff: what the error was).")
    cache = serializers.CharField(help_text="`ok`, or `error` (staff: what the error was).")
    broker = serializers.CharField(help_text="`ok`, or `error` (staff: what the error was).")
    workers = serializers.CharField(help_text="`ok`, or `error` (staff: what the error was).")


class HealthView(APIView):
    """`ok` or `error` for database, cache, broker and workers; 503 when one is down.
    Staff also see what the error was; nobody else sees internal error text."""

    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            200: HealthSerializer,
            503: OpenApiResponse(HealthSerializer, description="One of them is down."),
        }
    )
    def get(self, request):
        checks = health()
        healthy = all(value == "ok" for value in checks.values())
        if not request.user.is_staff:
            checks = {name: "ok" if value == "ok" else "error" for name, value in checks.items()}
        return Response(checks, status=200 if healthy else 503)
