"""Every route of the posts API, in order: search, tags and categories, versions, then
the post router (so a word like `search` is never taken for a slug). Included under
/api/ by the project's urls.py."""

from contentpipeline.routers import OptionalSlashRouter

from . import search, taxonomy, versions
from .posts import post_viewset

router = OptionalSlashRouter()
# PostViewSet, or what the approval workflow provides at start-up (with PATCH).
router.register("posts", post_viewset(), basename="post")

urlpatterns = [
    *search.urlpatterns,
    *taxonomy.urlpatterns,
    *versions.urlpatterns,
    *router.urls,
]
