"""Tags and categories of published posts, with how many posts each has (anyone)."""

from django.urls import re_path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny

from contentpipeline.cache import tier_get_or_set

from ..selectors import category_counts, tag_counts


class TermCountSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="As most posts spell it.")
    slug = serializers.CharField(help_text="Its page: `/tags/<slug>/` or `/categories/<slug>/`.")
    count = serializers.IntegerField(help_text="Published posts (live, not unpublished).")


class _TermListView(GenericAPIView):
    """A page of `{name, slug, count}`, most posts first, then by name. The whole list
    is cached in the content tier, so any change to a post recomputes it."""

    permission_classes = [AllowAny]
    serializer_class = TermCountSerializer
    filter_backends = []
    cache_key = ""

    def compute(self) -> list[dict]:
        raise NotImplementedError

    def get_queryset(self) -> list[dict]:
        # The browsable API asks for it too (its filter form), not only `get`.
        return tier_get_or_set("content", self.cache_key, self.compute)

    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class TagListView(_TermListView):
    cache_key = "api-tags"

    def compute(self) -> list[dict]:
        return tag_counts()

    @extend_schema(operation_id="tags_list", responses={200: TermCountSerializer(many=True)})
    def get(self, request):
        return super().get(request)


class CategoryListView(_TermListView):
    cache_key = "api-categories"

    def compute(self) -> list[dict]:
        return category_counts()

    @extend_schema(operation_id="categories_list", responses={200: TermCountSerializer(many=True)})
    def get(self, request):
        return super().get(request)


urlpatterns = [
    re_path(r"^tags/?$", TagListView.as_view(), name="tag-list"),
    re_path(r"^categories/?$", CategoryListView.as_view(), name="category-list"),
]
