"""Admin for editors: tasks awaiting approval first, a review screen per draft, and
approve/reject actions that call the same service as the API."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, Value, When
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from approvals.services import approval_decide
from contentpipeline.errors import ApplicationError
from contentpipeline.roles import is_editor

from . import services
from .models import ContentTask, StageRun, Status
from .selectors import task_result


class ReviewForm(forms.Form):
    DECISIONS = [
        ("approve", "Approve and publish"),
        ("request_changes", "Request changes (regenerate with feedback)"),
        ("reject", "Reject"),
    ]
    decision = forms.ChoiceField(choices=DECISIONS, widget=forms.RadioSelect)
    feedback = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    publish_at = forms.DateTimeField(
        required=False, help_text="Leave empty to publish now (YYYY-MM-DD HH:MM, UTC)."
    )

    def clean(self):
        data = super().clean()
        if data.get("decision") in ("reject", "request_changes") and not data.get("feedback"):
            self.add_error("feedback", "Feedback is required when rejecting a draft.")
        return data


class BulkRejectForm(forms.Form):
    feedback = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))


class StageRunInline(admin.TabularInline):
    model = StageRun
    extra = 0
    can_delete = False
    fields = ["generation", "stage", "attempt", "status", "started_at", "finished_at", "model",
              "tokens_in", "tokens_out", "cost", "error"]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return is_editor(request.user)


@admin.register(ContentTask)
class ContentTaskAdmin(SimpleHistoryAdmin):
    list_display = ["topic", "status", "review_link", "priority", "stage", "progress",
                    "created_by", "created_at"]  # fmt: skip
    list_filter = ["status", "priority", "task_type"]
    search_fields = ["topic", "keywords"]
    inlines = [StageRunInline]
    actions = [
        "approve_selected",
        "reject_selected",
        "pause_selected",
        "resume_selected",
        "cancel_selected",
        "retry_selected",
        "delete_selected_softly",
    ]
    readonly_fields = [
        "id", "task_type", "topic", "keywords", "primary_keyword", "target_audience",
        "category", "tone", "style", "target_length", "generate_image", "quality_preference",
        "priority", "status", "stage", "progress", "error", "feedback", "generation",
        "created_by", "created_at", "updated_at", "started_at", "completed_at", "deleted_at",
        "review_link",
    ]  # fmt: skip
    fields = readonly_fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(deleted_at__isnull=True)
            .select_related("created_by")
        )

    def get_ordering(self, request):
        # Drafts waiting for an editor come first, then the newest.
        waiting_first = Case(
            When(status=Status.AWAITING_APPROVAL, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
        return [waiting_first.asc(), "-created_at"]

    # The review desk goes by the editor role, nothing else: not staff status, not model
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

    @admin.display(description="Review")
    def review_link(self, obj: ContentTask) -> str:
        if obj.status != Status.AWAITING_APPROVAL:
            return "-"
        url = reverse("admin:tasks_contenttask_review", args=[obj.pk])
        return format_html('<a class="button" href="{}">Review draft</a>', url)

    def get_urls(self):
        custom = [
            path(
                "<uuid:task_id>/review/",
                self.admin_site.admin_view(self.review_view),
                name="tasks_contenttask_review",
            )
        ]
        return custom + super().get_urls()

    def review_view(self, request, task_id):
        if not is_editor(request.user):
            raise PermissionDenied
        task = get_object_or_404(ContentTask.objects.alive(), pk=task_id)
        form = ReviewForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            decision = form.cleaned_data["decision"]
            try:
                _, post = approval_decide(
                    task_id=task.pk,
                    reviewer=request.user,
                    approved=decision == "approve",
                    feedback=form.cleaned_data["feedback"],
                    publish_at=form.cleaned_data["publish_at"],
                    regenerate=decision == "request_changes",
                )
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                if post is not None:
                    messages.success(
                        request, f"Published “{post.title}” at {post.get_absolute_url()}"
                    )
                else:
                    messages.success(request, "Decision recorded.")
                return redirect("admin:tasks_contenttask_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Review: {task.topic}",
            "task": task,
            "result": task_result(task),
            "form": form,
        }
        return TemplateResponse(request, "admin/tasks/review.html", context)

    def _apply_to_each(self, request, queryset, call, done_message: str) -> None:
        """Run `call(task)` for each selected task; one refusal does not stop the rest."""
        done, errors = 0, []
        for task in queryset:
            try:
                call(task)
                done += 1
            except ApplicationError as exc:
                errors.append(f"{task.topic[:40]}: {exc.message}")
        if done:
            messages.success(request, f"{done} task(s) {done_message}.")
        for error in errors:
            messages.error(request, error)

    def _decide_many(self, request, queryset, **kwargs) -> None:
        self._apply_to_each(
            request,
            queryset,
            lambda task: approval_decide(task_id=task.pk, reviewer=request.user, **kwargs),
            "decided",
        )

    @admin.action(description="Approve and publish selected drafts", permissions=["change"])
    def approve_selected(self, request, queryset):
        self._decide_many(request, queryset, approved=True)

    @admin.action(description="Reject selected drafts (with feedback)", permissions=["change"])
    def reject_selected(self, request, queryset):
        form = BulkRejectForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._decide_many(
                request, queryset, approved=False, feedback=form.cleaned_data["feedback"]
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Reject selected drafts",
            "tasks": queryset,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/tasks/bulk_reject.html", context)

    def _control_many(self, request, queryset, service, done_message: str) -> None:
        self._apply_to_each(
            request,
            queryset,
            lambda task: service(user=request.user, task_id=task.pk),
            done_message,
        )

    @admin.action(description="Pause selected tasks", permissions=["change"])
    def pause_selected(self, request, queryset):
        self._control_many(request, queryset, services.task_pause, "paused")

    @admin.action(description="Resume selected tasks", permissions=["change"])
    def resume_selected(self, request, queryset):
        self._control_many(request, queryset, services.task_resume, "resumed")

    @admin.action(description="Cancel selected tasks", permissions=["change"])
    def cancel_selected(self, request, queryset):
        self._control_many(request, queryset, services.task_cancel, "cancelled")

    @admin.action(description="Retry selected failed tasks", permissions=["change"])
    def retry_selected(self, request, queryset):
        self._control_many(request, queryset, services.task_retry, "queued again")

    @admin.action(description="Delete selected tasks (kept for the audit trail)",
                  permissions=["change"])  # fmt: skip
    def delete_selected_softly(self, request, queryset):
        self._control_many(request, queryset, services.task_delete, "deleted")

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # the hard delete; ours is soft
        return actions
