"""Who may do what. The editor role is membership of the `Editors` group (superusers
hold every role); being staff or holding model permissions does not make an editor."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from rest_framework.permissions import BasePermission

EDITORS_GROUP = "Editors"


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


class IsEditor(BasePermission):
    message = "Only editors can do this."

    def has_permission(self, request, view) -> bool:
        return is_editor(request.user)
