"""Task control in admin, for editors: every task with its stage runs and history,
read-only, and actions that pause, resume, cancel, retry or delete through the same
`task_bulk` service as the API. The review desk (approve, reject, request changes) is
the approvals app's, on top of this."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, F, IntegerField, Value, When
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.formats import localize
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from contentpipeline.admin_site import EditorsMayViewMixin
from contentpipeline.roles import is_editor

from .models import (
    AWAITING_REVIEW,
    ContentTask,
    StageRun,
    Status,
    StyleGuide,
    Webhook,
    WebhookDelivery,
)
from .selectors import task_list_for_admin
from .services import task_bulk
from .services.style import EDITABLE, style_guide_update
from .services.webhooks import webhook_set_active


class StageRunInline(admin.TabularInline):
    model = StageRun
    extra = 0
    can_delete = False
    fields = ["generation", "stage", "attempt", "status", "worker", "started_at", "finished_at",
              "model", "tokens_in", "tokens_out", "cost", "error"]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return is_editor(request.user)


def report_results(request, results: list[dict], topics: dict[str, str], done: str) -> None:
    """One success line for the tasks that moved, one error line per task that did not."""
    moved = sum(result["ok"] for result in results)
    if moved:
        messages.success(request, f"{moved} task(s) {done}.")
    for result in results:
        if not result["ok"]:
            topic = topics.get(result["task_id"], result["task_id"])
            messages.error(request, f"{topic[:40]}: {result['error']}")


@admin.register(ContentTask)
class ContentTaskAdmin(SimpleHistoryAdmin):
    list_display = ["topic", "status", "due", "priority", "stage", "progress", "created_by",
                    "created_at"]  # fmt: skip
    list_filter = ["status", "priority", "task_type"]
    search_fields = ["topic", "keywords"]
    inlines = [StageRunInline]
    actions = [
        "pause_selected",
        "resume_selected",
        "cancel_selected",
        "retry_selected",
        "delete_selected_softly",
    ]
    readonly_fields = [
        "id", "task_type", "topic", "keywords", "primary_keyword", "target_audience",
        "category", "tone", "style", "target_length", "generate_image", "quality_preference",
        "priority", "due_at", "status", "stage", "progress", "error", "feedback", "generation",
        "created_by", "created_at", "updated_at", "started_at", "completed_at", "deleted_at",
    ]  # fmt: skip
    fields = readonly_fields

    def get_queryset(self, request):
        return task_list_for_admin()

    def get_ordering(self, request):
        # What waits for an editor (a draft, a plan) comes first, then the newest.
        waiting_first = Case(
            When(status__in=[Status.AWAITING_APPROVAL, Status.AWAITING_PLAN], then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
        # Among those, the soonest due first and those without a deadline after them.
        due = Case(When(status__in=AWAITING_REVIEW, then=F("due_at")), default=None)
        return [waiting_first.asc(), due.asc(nulls_last=True), "-created_at"]

    @admin.display(description="Due", ordering="due_at")
    def due(self, obj: ContentTask):
        """The review's deadline; past it, while the task still awaits review, marked
        overdue (the `overdue` class, for the eye and for tests)."""
        if obj.due_at is None:
            return "-"
        if obj.status in AWAITING_REVIEW and obj.due_at < timezone.now():
            return format_html(
                '<span class="overdue" style="color:#ba2121;font-weight:bold" '
                'title="Past its review deadline">{} (overdue)</span>',
                localize(timezone.localtime(obj.due_at)),
            )
        return format_html('<span class="due">{}</span>', localize(timezone.localtime(obj.due_at)))

    # Task control goes by the editor role, nothing else: not staff status, not model
    # permissions. A task's row is read-only here (its fields move only through the
    # services, which the actions call); "change" is what the actions require.
    def has_module_permission(self, request) -> bool:
        return is_editor(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return is_editor(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and is_editor(request.user)

    def has_add_permission(self, request) -> bool:
        return False  # tasks come in through the API, where they are validated and queued

    def revert_disabled(self, request, obj=None) -> bool:
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        """An old version, to read. Restoring it would move the task past its status
        machine (a published task back to awaiting approval, a deleted one back to
        life), so nothing is ever saved from here."""
        if request.method != "GET":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def save_model(self, request, obj, form, change):
        raise PermissionDenied  # tasks change only through the lifecycle services

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deletion is soft and goes through the lifecycle service

    def _bulk(self, request, queryset, action: str, done: str) -> None:
        topics = {str(pk): topic for pk, topic in queryset.values_list("pk", "topic")}
        results = task_bulk(user=request.user, task_ids=list(topics), action=action)
        report_results(request, results, topics, done)

    @admin.action(description="Pause selected tasks", permissions=["change"])
    def pause_selected(self, request, queryset):
        self._bulk(request, queryset, "pause", "paused")

    @admin.action(description="Resume selected tasks", permissions=["change"])
    def resume_selected(self, request, queryset):
        self._bulk(request, queryset, "resume", "resumed")

    @admin.action(description="Cancel selected tasks", permissions=["change"])
    def cancel_selected(self, request, queryset):
        self._bulk(request, queryset, "cancel", "cancelled")

    @admin.action(description="Retry selected failed tasks", permissions=["change"])
    def retry_selected(self, request, queryset):
        self._bulk(request, queryset, "retry", "queued again")

    @admin.action(description="Delete selected tasks (kept for the audit trail)",
                  permissions=["change"])  # fmt: skip
    def delete_selected_softly(self, request, queryset):
        self._bulk(request, queryset, "delete", "deleted")

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # the hard delete; ours is soft
        return actions


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by services only: read here (with the model's view permission:
    superusers), never added, edited or deleted."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Webhook)
class WebhookAdmin(ReadOnlyAdmin):
    """Integrators' webhooks (their secrets are not shown); a webhook that keeps
    failing can be switched off, and on again. Deliveries have their own list."""

    list_display = ["url", "owner", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["url", "owner__username"]
    fields = ["id", "owner", "url", "active", "created_at"]
    readonly_fields = fields
    actions = ["switch_off", "switch_on"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner")

    @admin.action(description="Switch off the selected webhooks", permissions=["change"])
    def switch_off(self, request, queryset):
        count = webhook_set_active(webhook_ids=list(queryset.values_list("pk", flat=True)),
                                   active=False)  # fmt: skip
        messages.success(request, f"{count} webhook(s) switched off.")

    @admin.action(description="Switch on the selected webhooks", permissions=["change"])
    def switch_on(self, request, queryset):
        count = webhook_set_active(webhook_ids=list(queryset.values_list("pk", flat=True)),
                                   active=True)  # fmt: skip
        messages.success(request, f"{count} webhook(s) switched on.")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """Every delivery, newest first: what was sent, and how its attempts went."""

    ordering = ["-created_at", "-id"]
    list_display = ["created_at", "webhook", "task", "status", "state", "attempts",
                    "last_status_code", "delivered_at"]  # fmt: skip
    list_filter = ["state", "status"]
    search_fields = ["webhook__url", "webhook__owner__username"]
    list_select_related = ["webhook", "task"]
    fields = ["webhook", "task", "event", "status", "previous_status", "payload", "state",
              "attempts", "last_status_code", "last_error", "last_response", "created_at",
              "last_attempt_at", "delivered_at", "next_attempt_at"]  # fmt: skip
    readonly_fields = fields


@admin.register(StyleGuide)
class StyleGuideAdmin(EditorsMayViewMixin, SimpleHistoryAdmin):
    """The one house style guide (editors): its list is the guide itself, each save
    (or restore of an old version from its History) is its next version, saved
    through `style_guide_update`; it is never deleted. The next drafts are written and
    reviewed to it; drafts already reviewed keep the results of their version."""

    fields = ["banned_phrases", "no_exclamation_marks", "max_sentence_words",
              "required_phrases", "model_rules", "version", "updated_at"]  # fmt: skip
    readonly_fields = ["version", "updated_at"]
    history_list_display = ["version"]

    def has_change_permission(self, request, obj=None) -> bool:
        return is_editor(request.user) or super().has_change_permission(request, obj)

    def has_add_permission(self, request) -> bool:
        # Only the first save makes it; after that there is the one guide to change.
        allowed = is_editor(request.user) or super().has_add_permission(request)
        return allowed and not StyleGuide.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if StyleGuide.objects.filter(pk=1).exists():
            return redirect("admin:tasks_styleguide_change", 1)
        return redirect("admin:tasks_styleguide_add")

    def save_model(self, request, obj, form, change):
        saved = style_guide_update(
            user=request.user, reason=f"edited in admin by {request.user}",
            **{name: form.cleaned_data[name] for name in EDITABLE if name in form.cleaned_data},
        )  # fmt: skip
        obj.pk, obj.version, obj.updated_at = saved.pk, saved.version, saved.updated_at
