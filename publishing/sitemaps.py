"""The sitemap: every published post, and the tag and category pages that have one."""

from itertools import chain

from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from .models import Post
from .selectors import post_list_public


class PostSitemap(Sitemap):
    changefreq = "weekly"

    def items(self):
        return post_list_public().only("slug", "updated_at").order_by("-published_at", "-id")

    def lastmod(self, item: Post):
        return item.updated_at


class TagSitemap(Sitemap):
    changefreq = "daily"

    def items(self) -> list[str]:
        slugs = post_list_public().values_list("tag_slugs", flat=True)
        return sorted(set(chain.from_iterable(slugs)))

    def location(self, item: str) -> str:
        return reverse("publishing:tag", kwargs={"tag_slug": item})


class CategorySitemap(Sitemap):
    changefreq = "daily"

    def items(self) -> list[str]:
        found = post_list_public().exclude(category_slug="").values_list("category_slug", flat=True)
        return list(found.order_by("category_slug").distinct())

    def location(self, item: str) -> str:
        return reverse("publishing:category", kwargs={"category_slug": item})


SITEMAPS = {"posts": PostSitemap, "tags": TagSitemap, "categories": CategorySitemap}
