"""The project's URLs plus `/bench/bare/`: a Django view answering a constant, the
baseline bench/site_pages.py compares the public pages with. It sits just before the
public site's routes, so it is resolved after the same patterns a post page is."""

from django.http import HttpResponse
from django.urls import path

from contentpipeline import urls as project

BARE_BODY = b"ok\n"


def bare(request):
    return HttpResponse(BARE_BODY, content_type="text/plain; charset=utf-8")


_site = next(
    i for i, pattern in enumerate(project.urlpatterns)
    if getattr(pattern, "namespace", None) == "publishing"
)  # fmt: skip
urlpatterns = [
    *project.urlpatterns[:_site],
    path("bench/bare/", bare, name="bench-bare"),
    *project.urlpatterns[_site:],
]

handler400 = project.handler400
handler403 = project.handler403
handler404 = project.handler404
handler500 = project.handler500
