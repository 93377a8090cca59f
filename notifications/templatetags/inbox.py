from django import template

from ..selectors import notification_unread_count

register = template.Library()


@register.simple_tag(takes_context=True)
def inbox_unread_count(context) -> int:
    """The signed-in user's unread notifications (every admin page shows it)."""
    request = context.get("request")
    return notification_unread_count(user=getattr(request, "user", None))
