"""The inbox in admin: each admin user's own notifications (nobody sees another's),
opened (which marks one read) or marked read in bulk, and their e-mail setting. The
unread count on every admin page is templates/admin/base_site.html's."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html

from contentpipeline.admin_site import may_use_admin
from contentpipeline.errors import NotFound

from .models import Notification
from .selectors import notification_list_for_user, notification_settings_of
from .services import (
    notification_mark_all_read,
    notification_mark_read,
    notification_settings_update,
)


class EmailSettingsForm(forms.Form):
    email_enabled = forms.BooleanField(
        required=False, label="Also send me each notification by e-mail"
    )


class ReadFilter(admin.SimpleListFilter):
    title = "read"
    parameter_name = "unread"

    def lookups(self, request, model_admin):
        return [("1", "Unread"), ("0", "Read")]

    def queryset(self, request, queryset):
        if self.value() == "1":
            return queryset.filter(read_at__isnull=True)
        if self.value() == "0":
            return queryset.filter(read_at__isnull=False)
        return queryset


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    change_list_template = "admin/notifications/notification/change_list.html"
    list_display = ["open_link", "kind", "created_at", "read_at"]
    list_display_links = None
    list_filter = [ReadFilter, "kind"]
    actions = ["mark_read"]

    def get_queryset(self, request):
        return notification_list_for_user(user=request.user)

    # Every admin user has an inbox, whatever their model permissions; it is theirs to
    # read, not to edit, add to or delete from.
    def has_module_permission(self, request) -> bool:
        return may_use_admin(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return may_use_admin(request.user) and (obj is None or obj.recipient_id == request.user.pk)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Notification")
    def open_link(self, obj: Notification):
        url = reverse("admin:notifications_notification_open", args=[obj.pk])
        if obj.read_at is None:
            return format_html('<a href="{}"><strong>{}</strong></a>', url, obj.title)
        return format_html('<a href="{}">{}</a>', url, obj.title)

    @admin.action(description="Mark selected notifications read")
    def mark_read(self, request, queryset):
        count = notification_mark_all_read(
            user=request.user, notification_ids=queryset.values_list("pk", flat=True)
        )
        messages.success(request, f"{count} marked read.")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:notification_id>/open/", view(self.open_view),
                 name="notifications_notification_open"),
            path("email/", view(self.email_view), name="notifications_notification_email"),
            *super().get_urls(),
        ]  # fmt: skip

    def open_view(self, request, notification_id):
        """Mark the notification read and go where it links (the review page, the task)."""
        try:
            notification = notification_mark_read(
                user=request.user, notification_id=notification_id
            )
        except NotFound as exc:
            raise Http404(exc.message) from exc
        return redirect(notification.url)

    def email_view(self, request):
        if request.method != "POST" or not may_use_admin(request.user):
            raise PermissionDenied
        form = EmailSettingsForm(request.POST)
        if form.is_valid():
            enabled = form.cleaned_data["email_enabled"]
            notification_settings_update(user=request.user, email_enabled=enabled)
            messages.success(request, "E-mail is on." if enabled else "E-mail is off.")
        return redirect("admin:notifications_notification_changelist")

    def changelist_view(self, request, extra_context=None):
        current = notification_settings_of(user=request.user)
        form = EmailSettingsForm(initial={"email_enabled": current.email_enabled})
        extra = {"email_form": form, "title": "Inbox", "has_email": bool(request.user.email)}
        return super().changelist_view(request, {**(extra_context or {}), **extra})
