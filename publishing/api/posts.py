"""REST interface of published posts (public)."""

import django_filters
from rest_framework import serializers, viewsets
from rest_framework.permissions import AllowAny

from ..models import Post
from ..selectors import post_get_for_user, post_list_public


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


class PostFilter(django_filters.FilterSet):
    tag = django_filters.CharFilter(field_name="tags", lookup_expr="contains", method="by_tag")
    category = django_filters.CharFilter(field_name="category", lookup_expr="iexact")

    class Meta:
        model = Post
        fields = ["tag", "category"]

    def by_tag(self, queryset, name, value):
        return queryset.filter(tags__contains=[value.lower()])


class PostViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = PostSerializer
    permission_classes = [AllowAny]
    lookup_field = "slug"
    # Only what a slug can be: anything else (a NUL byte, a dot) is a plain 404.
    lookup_value_regex = "[-a-zA-Z0-9_]+"
    filterset_class = PostFilter
    ordering_fields = ["published_at", "title"]
    ordering = ["-published_at"]

    def get_queryset(self):
        return post_list_public()

    def get_object(self):
        return post_get_for_user(slug=self.kwargs["slug"], user=self.request.user)
