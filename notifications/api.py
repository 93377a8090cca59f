"""REST interface of a user's notifications: their own, marked read one by one, and
their e-mail setting."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import Kind, Notification
from .selectors import notification_list_for_user, notification_settings_of
from .services import notification_mark_read, notification_settings_update


class NotificationSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=Kind.choices, read_only=True)
    task_id = serializers.UUIDField(read_only=True, allow_null=True)
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "task_id", "title", "url", "created_at", "read_at", "read"]
        read_only_fields = fields

    def get_read(self, obj: Notification) -> bool:
        return obj.read_at is not None


class NotificationSettingsSerializer(serializers.Serializer):
    email_enabled = serializers.BooleanField(
        help_text="Whether each notification also comes by e-mail (to the account's "
        "address, when it has one)."
    )


UNREAD = OpenApiParameter(
    "unread", OpenApiTypes.BOOL, description="true: only unread ones; false: only read ones."
)


@extend_schema_view(
    list=extend_schema(
        summary="Your notifications, newest first",
        description="A draft or plan waiting for your review (you are in its reviewer "
        "group), a decision on your task, a reminder. Each links to the review page or "
        "the task; none holds the draft's text.",
        parameters=[UNREAD],
    )
)
class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = NotificationSerializer
    filter_backends: list = []
    ordering = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation, no user
            return Notification.objects.none()
        raw = (self.request.query_params.get("unread") or "").strip().lower()
        unread = {"true": True, "1": True, "false": False, "0": False}.get(raw)
        return notification_list_for_user(user=self.request.user, unread=unread)

    @extend_schema(summary="Mark a notification read", request=None,
                   responses={200: NotificationSerializer})  # fmt: skip
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        notification = notification_mark_read(user=request.user, notification_id=pk)
        return Response(NotificationSerializer(notification).data)


class NotificationSettingsView(APIView):
    """Whether your notifications also come by e-mail."""

    @extend_schema(summary="Your notification settings",
                   responses={200: NotificationSettingsSerializer})  # fmt: skip
    def get(self, request):
        return Response(self._answer(request))

    @extend_schema(summary="Turn notification e-mail on or off",
                   request=NotificationSettingsSerializer,
                   responses={200: NotificationSettingsSerializer})  # fmt: skip
    def put(self, request):
        return self._update(request, partial=False)

    @extend_schema(summary="Turn notification e-mail on or off",
                   request=NotificationSettingsSerializer,
                   responses={200: NotificationSettingsSerializer})  # fmt: skip
    def patch(self, request):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        serializer = NotificationSettingsSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        if "email_enabled" in serializer.validated_data:
            notification_settings_update(
                user=request.user, email_enabled=serializer.validated_data["email_enabled"]
            )
        return Response(self._answer(request))

    @staticmethod
    def _answer(request) -> dict:
        return {"email_enabled": notification_settings_of(user=request.user).email_enabled}
