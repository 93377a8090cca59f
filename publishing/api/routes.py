"""Every route of the posts API that is not the post router's, in order."""

from . import search, taxonomy, versions

urlpatterns = [*search.urlpatterns, *taxonomy.urlpatterns, *versions.urlpatterns]
