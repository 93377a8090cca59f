"""The RSS feed of the latest published posts."""

from django.contrib.syndication.views import Feed
from django.utils.html import escape

from .models import Post
from .selectors import post_list_public

FEED_LENGTH = 20


class LatestPostsFeed(Feed):
    title = "Content Pipeline"
    link = "/"
    description = "The latest posts published on Content Pipeline."

    def items(self):
        return post_list_public().defer("body_markdown", "body_html")[:FEED_LENGTH]

    def item_description(self, item: Post) -> str:
        # Feed readers take a description as HTML; the excerpt is plain text.
        return escape(item.excerpt)

    def item_pubdate(self, item: Post):
        return item.published_at

    def item_updateddate(self, item: Post):
        return item.updated_at

    def item_categories(self, item: Post) -> list[str]:
        return list(item.tags)
