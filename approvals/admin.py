from django.contrib import admin

from contentpipeline.admin_site import EditorsMayViewMixin

from .models import ApprovalDecision


@admin.register(ApprovalDecision)
class ApprovalDecisionAdmin(EditorsMayViewMixin, admin.ModelAdmin):
    """The audit trail: readable, never editable, by anyone."""

    list_display = ["task", "decision", "reviewer", "created_at", "feedback"]
    list_filter = ["decision", "reviewer"]
    date_hierarchy = "created_at"
    readonly_fields = ["task", "generation", "decision", "reviewer", "feedback", "publish_at",
                       "created_at"]  # fmt: skip

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
