"""Routes of versions, filled in below."""

urlpatterns: list = []
