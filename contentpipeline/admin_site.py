"""The admin site, open to staff and to editors: a member of `Editors` reviews drafts
without being made staff by hand. What each of them sees is up to each ModelAdmin."""

from django.contrib import admin

from .roles import is_editor


class ContentAdminSite(admin.AdminSite):
    site_header = "Content pipeline"
    site_title = "Content pipeline admin"
    index_title = "Review desk and operations"

    def has_permission(self, request) -> bool:
        user = request.user
        return user.is_active and (user.is_staff or is_editor(user))


class EditorsMayViewMixin:
    """For a ModelAdmin behind the review desk: editors see it without model
    permissions; anyone else as their permissions say."""

    def has_module_permission(self, request) -> bool:
        return is_editor(request.user) or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return is_editor(request.user) or super().has_view_permission(request, obj)
