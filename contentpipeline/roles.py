"""Who may do what. The editor role is membership of the `Editors` group, the publisher
role membership of the `Publishers` group (superusers hold every role); being staff or
holding model permissions does not make an editor or a publisher."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet
from rest_framework.permissions import BasePermission

EDITORS_GROUP = "Editors"
# Integrators who manage posts over the API (edit, reschedule, unpublish, publish
# again); they do not review drafts. A migration of publishing creates the group.
PUBLISHERS_GROUP = "Publishers"


def is_editor(user: AbstractBaseUser | AnonymousUser | None) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    # Cached on the user object: consumers and list views ask many times per request.
    cached = getattr(user, "_is_editor", None)
    if cached is None:
        cached = user.groups.filter(name=EDITORS_GROUP).exists()
        user._is_editor = cached
    return cached


def is_publisher(user: AbstractBaseUser | AnonymousUser | None) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_is_publisher", None)
    if cached is None:
        cached = user.groups.filter(name=PUBLISHERS_GROUP).exists()
        user._is_publisher = cached
    return cached


def may_manage_posts(user: AbstractBaseUser | AnonymousUser | None) -> bool:
    """Editors and publishers: they edit posts, reschedule, unpublish and publish
    them again, and read posts in any state (scheduled, unpublished)."""
    return is_editor(user) or is_publisher(user)


def role_name(user: AbstractBaseUser | AnonymousUser | None) -> str:
    """The role a user acts in, as a post's provenance records its approver:
    "editor" (the Editors group, or a superuser), else "" (no role that approves)."""
    return "editor" if is_editor(user) else ""


def editor_users() -> QuerySet:
    """The active users who hold the editor role, as `is_editor` judges one."""
    role = Q(is_superuser=True) | Q(groups__name=EDITORS_GROUP)
    return get_user_model().objects.filter(role, is_active=True).distinct()


class IsEditor(BasePermission):
    message = "Only editors can do this."

    def has_permission(self, request, view) -> bool:
        return is_editor(request.user)


class ManagesPosts(BasePermission):
    message = "Only editors and publishers can manage posts."

    def has_permission(self, request, view) -> bool:
        return may_manage_posts(request.user)


# Changes nobody asked for in a request (the runner, the dispatcher, scheduled
# publication) are recorded as this user's, never as nobody's.
SYSTEM_USERNAME = "system"


def system_user() -> AbstractBaseUser:
    """The named user that Celery and beat act as: it cannot log in (inactive, no
    usable password). A migration creates it; it is made again if it went missing."""
    from django.contrib.auth import get_user_model

    user, created = get_user_model().objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user
