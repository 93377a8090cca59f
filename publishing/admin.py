from django.contrib import admin, messages
from django.shortcuts import redirect
from simple_history.admin import SimpleHistoryAdmin

from contentpipeline.admin_site import EditorsMayViewMixin
from contentpipeline.roles import is_editor

from .models import Post
from .services import post_update


@admin.register(Post)
class PostAdmin(EditorsMayViewMixin, SimpleHistoryAdmin):
    list_display = ["title", "slug", "category", "published_at"]
    list_filter = ["category"]
    search_fields = ["title", "body_markdown"]
    readonly_fields = ["task", "body_html", "created_at", "updated_at"]
    prepopulated_fields = {"slug": ["title"]}

    def has_change_permission(self, request, obj=None) -> bool:
        return is_editor(request.user) or super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        obj._withdrawn = post_update(post=obj, user=request.user, reason="edited in admin") is None

    def response_change(self, request, obj):
        if getattr(obj, "_withdrawn", False):
            messages.warning(
                request,
                "The text of a post that was not live yet changed after approval: the post "
                "is withdrawn and the edited draft awaits approval again.",
            )
            return redirect("admin:tasks_contenttask_change", obj.task_id)
        return super().response_change(request, obj)
