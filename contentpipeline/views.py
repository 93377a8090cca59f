from django.conf import settings
from django.views.static import serve


def media(request, path: str):
    """Generated cover images. A CDN or object storage would serve them in a larger
    set-up; here the app does, read-only, from MEDIA_ROOT."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)
