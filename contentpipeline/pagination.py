"""Lists answer `{count, next, previous, results}` with `limit`/`offset`, both bounded
so that no query string reaches the database as an out-of-range number."""

from rest_framework import pagination

MAX_LIMIT = 100
# Far beyond any list here; a larger offset means "past the end" just the same.
MAX_OFFSET = 1_000_000_000


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    default_limit = 20
    max_limit = MAX_LIMIT
    limit_query_description = f"Number of results to return per page (1 to {MAX_LIMIT})."
    offset_query_description = "The initial index from which to return the results."

    def get_offset(self, request) -> int:
        return min(super().get_offset(request), MAX_OFFSET)
