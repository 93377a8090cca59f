"""REST interface of posts: published posts for anyone; editors and publishers may also
list the scheduled and unpublished ones (`?status=`) and read any post. Changing a post
is the approval workflow's (approvals/api/posts.py: PATCH, unpublish, publish): PATCH is
served on this app's route by the viewset that app provides (`provide_post_viewset`)."""

import django_filters
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, viewsets
from rest_framework.permissions import AllowAny

from contentpipeline.roles import may_manage_posts

from ..models import Post
from ..provenance import post_provenance, post_sources
from ..search import post_search
from ..selectors import (
    POST_STATUSES,
    post_get_for_user,
    post_list_by_slugs,
    post_list_with_status,
)


class PostSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Post
        fields = [
            "slug", "title", "excerpt", "body_html", "image_url", "tags", "category",
            "seo_title", "meta_description", "published_at", "url",
        ]  # fmt: skip
        read_only_fields = fields

    def get_url(self, post: Post) -> str:
        request = self.context.get("request")
        url = post.get_absolute_url()
        return request.build_absolute_uri(url) if request else url


class CitedSourceSerializer(serializers.Serializer):
    n = serializers.IntegerField(help_text="The number the text cites it by: `[n]`.")
    url = serializers.URLField()
    title = serializers.CharField(allow_blank=True)
    fetched_at = serializers.CharField(
        allow_null=True, help_text="When the source was read (ISO 8601)."
    )


class ProvenanceSerializer(serializers.Serializer):
    models = serializers.ListField(
        child=serializers.CharField(),
        help_text="The models that wrote the post's draft (empty for a post written in the admin).",
    )
    sources = serializers.IntegerField(help_text="How many numbered sources the post cites.")
    approved_at = serializers.DateTimeField(
        allow_null=True, help_text="When an editor approved the text (null: never approved)."
    )
    approved_by_role = serializers.CharField(
        allow_blank=True, help_text="The approver's role: `editor`; empty when never approved."
    )
    content_hash = serializers.CharField(
        help_text="sha256 of the live text (title, excerpt, body, SEO fields, tags), as a "
        "task's `result.content_hash` is computed."
    )
    matches_approved = serializers.BooleanField(
        allow_null=True,
        help_text="Whether the live text is still the text approved (false: edited since "
        "it went live); null for a post that was never approved.",
    )


class PostDetailSerializer(PostSerializer):
    """One post: the list's fields, its expiry date, its numbered sources and its
    provenance."""

    sources = serializers.SerializerMethodField()
    provenance = serializers.SerializerMethodField()
    expire_at = serializers.DateTimeField(
        allow_null=True,
        read_only=True,
        help_text='When the post goes off the site (unpublished, as "expired"); null: never.',
    )

    class Meta(PostSerializer.Meta):
        fields = [*PostSerializer.Meta.fields, "expire_at", "sources", "provenance"]
        read_only_fields = fields

    @extend_schema_field(CitedSourceSerializer(many=True))
    def get_sources(self, post: Post) -> list[dict]:
        return post_sources(post)

    @extend_schema_field(ProvenanceSerializer)
    def get_provenance(self, post: Post) -> dict:
        return ProvenanceSerializer(post_provenance(post)).data


class PostFilter(django_filters.FilterSet):
    tag = django_filters.CharFilter(field_name="tags", lookup_expr="contains", method="by_tag")
    category = django_filters.CharFilter(field_name="category", lookup_expr="iexact")

    class Meta:
        model = Post
        fields = ["tag", "category"]

    def by_tag(self, queryset, name, value):
        return queryset.filter(tags__contains=[value.lower()])


class StatusQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=POST_STATUSES, default="published", required=False)


class PostErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class PostViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = PostSerializer
    permission_classes = [AllowAny]
    lookup_field = "slug"
    # Only what a slug can be: anything else (a NUL byte, a dot) is a plain 404.
    lookup_value_regex = "[-a-zA-Z0-9_]+"
    filterset_class = PostFilter
    ordering_fields = ["published_at", "title"]
    ordering = ["-published_at"]
    # What `?status=` asked for; `list` sets it once the asker may see it.
    post_status = "published"

    def get_queryset(self):
        return post_list_with_status(status=self.post_status)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "q",
                description="Full-text search (web search syntax, at least 2 characters): "
                "published posts, best match first. Searched on its own (tag and category "
                "do not apply); GET /api/posts/search also gives snippets.",
            ),
            OpenApiParameter(
                "status",
                enum=POST_STATUSES,
                default="published",
                description="`scheduled` (approved, not live yet) and `unpublished` are "
                "for editors and publishers only.",
            ),
        ],
        responses={
            200: PostSerializer(many=True),
            400: OpenApiResponse(description="Unknown `status` (field errors)."),
            401: OpenApiResponse(
                PostErrorSerializer, description="`status` other than published, anonymous."
            ),
            403: OpenApiResponse(
                PostErrorSerializer,
                description="`status` other than published, neither editor nor publisher.",
            ),
        },
    )
    def list(self, request, *args, **kwargs):
        query = StatusQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        status = query.validated_data["status"]
        if status != "published" and not may_manage_posts(request.user):
            self.permission_denied(
                request,
                message=f"Only editors and publishers can list {status} posts; others see "
                "published ones.",
            )
        self.post_status = status
        if "q" in request.query_params and status == "published":
            return self._search(request, request.query_params["q"])
        return super().list(request, *args, **kwargs)

    def _search(self, request, text: str):
        """`?q=`: the full-text search's ranking, in this list's shape and pages."""
        paginator = self.paginator
        limit, offset = paginator.get_limit(request), paginator.get_offset(request)
        found = post_search(query=text, limit=limit, offset=offset)
        posts = post_list_by_slugs([result.slug for result in found.results])
        paginator.count, paginator.limit, paginator.offset = found.total, limit, offset
        paginator.request = request
        return paginator.get_paginated_response(self.get_serializer(posts, many=True).data)

    def get_serializer_class(self):
        return PostDetailSerializer if self.action == "retrieve" else PostSerializer

    @extend_schema(
        responses={
            200: PostDetailSerializer,
            404: OpenApiResponse(
                PostErrorSerializer,
                description="No such published post (editors and publishers: no such post).",
            ),
        }
    )
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    def get_object(self):
        return post_get_for_user(slug=self.kwargs["slug"], user=self.request.user)


# --- The viewset the posts' routes are served by -------------------------------------------

# Changing a post is the approval workflow's (a change may send a scheduled post back to
# approval), an app above this one. It provides, at start-up, the viewset the routes
# serve: this one, extended with PATCH (approvals/apps.py). Without it posts are read-only.
_post_viewset: type[PostViewSet] = PostViewSet


def provide_post_viewset(viewset: type[PostViewSet]) -> None:
    """Serve the posts' routes (list and detail) with `viewset`, a PostViewSet that reads
    as this one does. Called once, in an AppConfig.ready(), before the URL conf loads."""
    global _post_viewset
    if not issubclass(viewset, PostViewSet):
        raise TypeError(f"{viewset!r} is not a PostViewSet")
    _post_viewset = viewset


def post_viewset() -> type[PostViewSet]:
    """The viewset the posts' routes are served by (see provide_post_viewset)."""
    return _post_viewset
