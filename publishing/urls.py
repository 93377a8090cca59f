from django.contrib.sitemaps.views import sitemap
from django.urls import path

from . import search_views, views
from .feeds import LatestPostsFeed
from .sitemaps import SITEMAPS
from .views import cached_page

app_name = "publishing"

urlpatterns = [
    path("", cached_page(views.PostListView.as_view()), name="post_list"),
    path(
        "posts/<slug:slug>/",
        cached_page(views.PostDetailView.as_view(), params=()),
        name="post_detail",
    ),
    path(
        "tags/<slug:tag_slug>/",
        cached_page(views.TagPostListView.as_view()),
        name="tag",
    ),
    path(
        "categories/<slug:category_slug>/",
        cached_page(views.CategoryPostListView.as_view()),
        name="category",
    ),
    path("archive/", cached_page(views.ArchiveView.as_view(), params=()), name="archive"),
    path(
        "archive/<int:year>/<int:month>/",
        cached_page(views.MonthPostListView.as_view()),
        name="archive_month",
    ),
    path("feed/", cached_page(LatestPostsFeed(), params=()), name="feed"),
    path(
        "sitemap.xml",
        cached_page(sitemap, params=("p",)),
        {"sitemaps": SITEMAPS},
        name="sitemap",
    ),
    path("search/", search_views.SearchView.as_view(), name="search"),
]
