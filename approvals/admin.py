"""The review desk in admin: tasks awaiting approval come first in the task list, each
with a review screen, and approve/reject actions for many drafts at once. Every
decision goes through `approval_decide`, the same service as the API.

The desk extends the task admin of the tasks app (registered again here with the
review screen and actions added); the decision records are read-only."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from contentpipeline.admin_site import EditorsMayViewMixin
from contentpipeline.errors import ApplicationError, NotFound
from contentpipeline.roles import is_editor
from tasks.admin import ContentTaskAdmin, report_results
from tasks.models import ContentTask
from tasks.selectors import task_get_for_user, task_result

from .models import ApprovalDecision
from .services import approval_decide


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


def decide_each(*, reviewer, task_ids: list[str], **decision) -> list[dict]:
    """`approval_decide` for each task, each on its own: one result per task in the
    shape of `task_bulk`'s."""
    results = []
    for task_id in task_ids:
        try:
            record, _ = approval_decide(task_id=task_id, reviewer=reviewer, **decision)
        except ApplicationError as exc:
            results.append({"task_id": task_id, "ok": False,
                            "status": exc.extra.get("status"), "error": exc.message})  # fmt: skip
        else:
            results.append({"task_id": task_id, "ok": True, "status": record.decision,
                            "error": None})  # fmt: skip
    return results


class ReviewDeskAdmin(ContentTaskAdmin):
    list_display = ["topic", "status", "review_link", "priority", "stage", "progress",
                    "created_by", "created_at"]  # fmt: skip
    actions = ["approve_selected", "reject_selected", *ContentTaskAdmin.actions]

    @admin.display(description="Review")
    def review_link(self, obj: ContentTask) -> str:
        if not obj.may("approve"):
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
        try:
            task = task_get_for_user(user=request.user, task_id=task_id)
        except NotFound as exc:
            raise Http404(exc.message) from exc
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
        return TemplateResponse(request, "admin/approvals/review.html", context)

    def _decide_many(self, request, queryset, **decision) -> None:
        topics = {str(pk): topic for pk, topic in queryset.values_list("pk", "topic")}
        results = decide_each(reviewer=request.user, task_ids=list(topics), **decision)
        report_results(request, results, topics, "decided")

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
        return TemplateResponse(request, "admin/approvals/bulk_reject.html", context)


admin.site.unregister(ContentTask)
admin.site.register(ContentTask, ReviewDeskAdmin)


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
