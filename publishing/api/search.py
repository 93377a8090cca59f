"""Routes of search: `GET /api/posts/search?q=` (before the post router, so that
`search` is never read as a post's slug)."""

from django.urls import re_path, reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from contentpipeline.pagination import LimitOffsetPagination

from ..search import MAX_QUERY_LENGTH, MAX_RANKED, MIN_QUERY_LENGTH, SearchResult, post_search


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        min_length=MIN_QUERY_LENGTH,
        max_length=MAX_QUERY_LENGTH,
        help_text='What to look for, as in a search box: `"a phrase"`, `or`, '
        "`-excluded`; the last word also matches as a prefix.",
    )


class SearchResultSerializer(serializers.Serializer):
    slug = serializers.CharField()
    title = serializers.CharField()
    excerpt = serializers.CharField()
    headline = serializers.CharField(
        help_text="HTML snippet of the body: matches in `<mark>`, everything else escaped."
    )
    rank = serializers.FloatField(help_text="Relevance; results come best first.")
    published_at = serializers.DateTimeField()
    url = serializers.SerializerMethodField()

    def get_url(self, result: SearchResult) -> str:
        url = reverse("publishing:post_detail", kwargs={"slug": result.slug})
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class SearchPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(
        help_text=f"Matching posts: exact up to {MAX_RANKED}; past that PostgreSQL's "
        f"estimate, and the pages go as far as the best of the newest {MAX_RANKED}."
    )
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = SearchResultSerializer(many=True)
    corrected = serializers.CharField(
        allow_null=True,
        help_text="When the query found nothing: the corrected query these results are "
        "for (a typo fixed); otherwise null.",
    )


class SearchErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class SearchPagination(LimitOffsetPagination):
    default_limit = 10


class PostSearchView(APIView):
    """Full-text search of published posts, best match first."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="posts_search",
        parameters=[
            SearchQuerySerializer,
            OpenApiParameter("limit", int, description="Results per page (1 to 100, 10 default)."),
            OpenApiParameter("offset", int, description="Index of the first result."),
        ],
        responses={
            200: SearchPageSerializer,
            400: OpenApiResponse(
                description="`q` missing, shorter than 2 or longer than 200 characters "
                "(field errors, or `detail`)."
            ),
        },
    )
    def get(self, request):
        params = SearchQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        pagination = SearchPagination()
        limit = pagination.get_limit(request)
        offset = pagination.get_offset(request)
        page = post_search(query=params.validated_data["q"], limit=limit, offset=offset)
        pagination.limit, pagination.offset = limit, offset
        # The links go no further than the ranked matches.
        pagination.count, pagination.request = min(page.total, MAX_RANKED), request
        results = SearchResultSerializer(page.results, many=True, context={"request": request})
        return Response(
            {
                "count": page.total,
                "next": pagination.get_next_link(),
                "previous": pagination.get_previous_link(),
                "results": results.data,
                "corrected": page.corrected,
            }
        )


urlpatterns = [re_path(r"^posts/search/?$", PostSearchView.as_view(), name="post-search")]
