"""Routes of search, filled in below."""

urlpatterns: list = []
