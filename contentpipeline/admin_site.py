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
