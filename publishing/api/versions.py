"""Versions of a post (editors only): the list, and one version with its diff against
the version before it. Reverting to a version is an action of the approval workflow
(it may send a post not live yet back to approval): its route is the approvals app's
(approvals/api/posts.py), with these paths and views' permissions."""

from datetime import datetime

from django.urls import re_path
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from contentpipeline.roles import IsEditor

from ..selectors import (
    VERSION_FIELDS,
    post_get_for_user,
    post_version_before,
    post_version_diff,
    post_version_get,
    post_version_source,
    post_versions,
)

SLUG = r"(?P<slug>[-a-zA-Z0-9_]+)"
# Digits only, at most 18 of them; the selector answers 404 for any number that is not
# a version of this post (and keeps out of the database those too large to be one).
VERSION = r"(?P<version_id>\d{1,18})"


class VersionErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


VERSION_ID = OpenApiParameter(
    "version_id", int, OpenApiParameter.PATH, description="A `version_id` from the list."
)
ERRORS = {
    400: OpenApiResponse(VersionErrorSerializer, description="Malformed request."),
    401: OpenApiResponse(VersionErrorSerializer, description="Not authenticated."),
    403: OpenApiResponse(VersionErrorSerializer, description="Authenticated, but not an editor."),
    404: OpenApiResponse(
        VersionErrorSerializer, description="No post with this slug, or no such version of it."
    ),
}


class SourceSerializer(serializers.Serializer):
    task_id = serializers.UUIDField(allow_null=True, help_text="The task whose draft it is.")
    generation = serializers.IntegerField(allow_null=True, help_text="That task's generation.")
    models = serializers.ListField(
        child=serializers.CharField(), help_text="The models that wrote that generation."
    )


class VersionSummarySerializer(serializers.Serializer):
    TYPES = {"+": "created", "~": "changed", "-": "deleted"}

    version_id = serializers.IntegerField(source="history_id")
    created_at = serializers.DateTimeField(source="history_date")
    changed_by = serializers.SerializerMethodField(
        help_text="Username (`system` for scheduled work); null if unknown."
    )
    change_reason = serializers.CharField(source="history_change_reason", allow_null=True)
    change_type = serializers.SerializerMethodField(
        help_text="`created`, `changed`, or `deleted` (a scheduled post withdrawn)."
    )
    title = serializers.CharField()
    source = serializers.SerializerMethodField(help_text="Provenance of this version's text.")

    def get_changed_by(self, version) -> str | None:
        user = version.history_user
        return user.get_username() if user is not None else None

    def get_change_type(self, version) -> str:
        return self.TYPES.get(version.history_type, version.history_type)

    @extend_schema_field(SourceSerializer)
    def get_source(self, version) -> dict:
        return post_version_source(version)


@extend_schema_field({"nullable": True, "description": "A string, a list of strings or null."})
class FieldValue(serializers.JSONField):
    """A field's value as the post serializer would show it (dates in ISO 8601)."""

    def to_representation(self, value):
        if isinstance(value, datetime):
            return serializers.DateTimeField().to_representation(value)
        return value


class DiffEntrySerializer(serializers.Serializer):
    field = serializers.CharField(help_text="One of: " + ", ".join(VERSION_FIELDS) + ".")
    change = serializers.CharField(
        help_text="`changed`, or `added` (the post's first version: every field)."
    )
    before = FieldValue(allow_null=True)
    after = FieldValue(allow_null=True)
    unified_diff = serializers.CharField(
        allow_null=True, help_text="For excerpt and bodies: a unified diff of their lines."
    )


class VersionDetailSerializer(VersionSummarySerializer):
    excerpt = serializers.CharField()
    body_markdown = serializers.CharField()
    body_html = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    category = serializers.CharField()
    seo_title = serializers.CharField()
    meta_description = serializers.CharField()
    published_at = serializers.DateTimeField()
    unpublished_at = serializers.DateTimeField(allow_null=True)
    expire_at = serializers.DateTimeField(allow_null=True)
    previous_version_id = serializers.SerializerMethodField(
        help_text="The version the diff is against; null for the first."
    )
    diff = serializers.SerializerMethodField(
        help_text="What this version changed against the one before it, field by field."
    )

    def get_previous_version_id(self, version) -> int | None:
        previous = self.context["previous"]
        return previous.history_id if previous is not None else None

    @extend_schema_field(DiffEntrySerializer(many=True))
    def get_diff(self, version) -> list:
        changes = post_version_diff(version=version, previous=self.context["previous"])
        return DiffEntrySerializer(changes, many=True).data


class EditorsOnly:
    """Editors only, on a post in any state; the views of its versions take this."""

    permission_classes = [IsAuthenticated, IsEditor]

    def get_post(self):
        # Editors read posts in any state: live, scheduled, unpublished.
        return post_get_for_user(slug=self.kwargs["slug"], user=self.request.user)


class PostVersionListView(EditorsOnly, GenericAPIView):
    """The post's versions, newest first: who changed it, when, why, and the task,
    generation and models its text came from."""

    serializer_class = VersionSummarySerializer
    filter_backends = []

    def get_queryset(self):
        # The browsable API asks for it too (its filter form), not only `get`.
        return post_versions(self.get_post())

    @extend_schema(
        operation_id="posts_versions_list",
        responses={200: VersionSummarySerializer(many=True), **ERRORS},
    )
    def get(self, request, slug):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class PostVersionDetailView(EditorsOnly, APIView):
    """One version's content, and its diff against the version before it."""

    @extend_schema(
        operation_id="posts_versions_retrieve",
        parameters=[VERSION_ID],
        responses={200: VersionDetailSerializer, **ERRORS},
    )
    def get(self, request, slug, version_id):
        version = post_version_get(post=self.get_post(), version_id=version_id)
        context = {"request": request, "previous": post_version_before(version)}
        return Response(VersionDetailSerializer(version, context=context).data)


urlpatterns = [
    re_path(rf"^posts/{SLUG}/versions/?$", PostVersionListView.as_view(), name="post-versions"),
    re_path(
        rf"^posts/{SLUG}/versions/{VERSION}/?$",
        PostVersionDetailView.as_view(),
        name="post-version",
    ),
]
