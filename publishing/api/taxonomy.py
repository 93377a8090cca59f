"""Routes of taxonomy, filled in below."""

urlpatterns: list = []
