"""The admin site, open to staff and to editors: a member of `Editors` reviews drafts
without being made staff by hand. What each of them sees is up to each ModelAdmin."""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from .roles import is_editor

# Who else uses the admin (the review desk) besides staff and editors: the reviewers
# of approval workflow steps, as the approvals app (above this one) judges them; it
# provides the check at start-up (approvals/apps.py).
_reviewer_check = None


def provide_reviewer_check(check) -> None:
    """Make `check(user) -> bool` say who reviews drafts without being an editor."""
    global _reviewer_check
    _reviewer_check = check


def may_use_admin(user) -> bool:
    if not user.is_active:
        return False
    if user.is_staff or is_editor(user):
        return True
    return _reviewer_check is not None and _reviewer_check(user)


class StaffOrEditorAuthenticationForm(AdminAuthenticationForm):
    """Django's admin login form lets staff in only; ours lets editors in too."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": (
            "Please enter the correct %(username)s and password of a staff member or an "
            "editor. Both fields may be case-sensitive."
        ),
    }

    def confirm_login_allowed(self, user) -> None:
        # The base form's own check (active users only), without the admin's staff check.
        super(AdminAuthenticationForm, self).confirm_login_allowed(user)
        if not may_use_admin(user):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class ContentAdminSite(admin.AdminSite):
    site_header = "Content pipeline"
    site_title = "Content pipeline admin"
    index_title = "Review desk and operations"
    login_form = StaffOrEditorAuthenticationForm

    def has_permission(self, request) -> bool:
        return may_use_admin(request.user)


class EditorsMayViewMixin:
    """For a ModelAdmin behind the review desk: editors see it without model
    permissions; anyone else as their permissions say."""

    def has_module_permission(self, request) -> bool:
        return is_editor(request.user) or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return is_editor(request.user) or super().has_view_permission(request, obj)
