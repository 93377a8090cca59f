"""Posts in admin (editors): the list by status, editing, and each post's History with
who, when, why and provenance, a field-by-field diff of every version against the one
before it, and revert. simple-history's own revert (a POST to a version's page, which
saves whatever the form holds) is replaced by `revert_post`, which restores the version.

An edit and a revert are saved through `save_post` and `revert_post`, the post
services here. What they mean for the post's task (a post not live yet sent back to
approval), and taking a post off the site or putting it back, are the approval
workflow's: approvals' admin registers this one again with those actions
(approvals/admin.py), as it does the task admin with the review desk."""

import copy

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import localize
from django.utils.html import format_html_join
from django.utils.text import Truncator
from simple_history.admin import SimpleHistoryAdmin

from contentpipeline.admin_site import EditorsMayViewMixin
from contentpipeline.errors import ApplicationError, NotFound
from contentpipeline.roles import is_editor

from .models import Post
from .selectors import (
    POST_STATUSES,
    post_version_before,
    post_version_diff,
    post_version_get,
    post_version_source,
    post_versions,
)
from .services import post_revert, post_schedule_problems, post_update


def post_status(post: Post) -> str:
    if post.unpublished_at is not None:
        return "unpublished"
    return "live" if post.is_live else "scheduled"


def _shown(value, limit: int | None = None) -> str:
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, list):
        value = ", ".join(str(item) for item in value)
    elif hasattr(value, "isoformat"):
        value = localize(timezone.localtime(value))
    text = str(value)
    return Truncator(text).chars(limit) if limit else text


def _diff_lines(unified: str) -> str:
    """A unified diff as HTML lines (escaped), marked as added, removed or a header."""
    kinds = {"@": "hunk", "+": "add", "-": "del"}
    return format_html_join(
        "\n",
        '<span class="{}">{}</span>',
        (
            ("hunk" if line.startswith(("+++", "---")) else kinds.get(line[:1], ""), line)
            for line in unified.splitlines()
        ),
    )


def _delta(change: dict) -> dict:
    """One line of the history list's "Changes" column."""
    unified = change["unified_diff"]
    if unified is None:
        old, new = _shown(change["before"], 60), _shown(change["after"], 60)
        return {"field": change["field"], "old": old, "new": new}
    lines = unified.splitlines()[2:]  # past the ---/+++ header
    added = sum(line.startswith("+") for line in lines)
    removed = sum(line.startswith("-") for line in lines)
    summary = f"{added} line(s) added, {removed} removed (open the version for the diff)"
    return {"field": change["field"], "old": "", "new": summary}


def _provenance(version) -> str:
    source = post_version_source(version)
    if source["task_id"] is None:
        return "written by hand (no task)"
    models = ", ".join(source["models"]) or "unknown"
    return f"task {source['task_id']}, generation {source['generation']}, models: {models}"


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [(status, "live" if status == "published" else status) for status in POST_STATUSES]

    def queryset(self, request, queryset):
        return queryset.with_status(self.value()) if self.value() else queryset


class PostForm(forms.ModelForm):
    """The post's fields, its schedule checked as the services check it (a scheduled
    post rescheduled only to a time to come, a live one not into the future, an expiry
    date in the future and after the publication), so a refusal is the field's error
    and not a failed save."""

    class Meta:
        model = Post
        fields = "__all__"  # noqa: DJ007 - the admin passes its own fields (less the read-only)

    def clean(self):
        cleaned = super().clean()
        stored = Post.objects.filter(pk=self.instance.pk).first() if self.instance.pk else None
        if stored is None:
            # A new post: its expiry date is checked against its publication alone.
            stored = Post(published_at=cleaned.get("published_at"), expire_at=None)
        if stored.published_at is None:
            return cleaned
        edited = copy.copy(stored)
        for name in ("published_at", "expire_at"):
            # Untouched fields keep their stored value (the form shows times to the second).
            if name in self.changed_data and name in cleaned:
                setattr(edited, name, cleaned[name])
        if edited.published_at is None:
            return cleaned
        for name, message in post_schedule_problems(stored=stored, edited=edited).items():
            if name in self.fields:
                self.add_error(name, message)
        return cleaned


@admin.register(Post)
class PostAdmin(EditorsMayViewMixin, SimpleHistoryAdmin):
    list_display = ["title", "status", "published_at", "models"]
    list_filter = [StatusFilter, "category"]
    search_fields = ["title", "body_markdown"]
    # Provenance is the pipeline's record, and taking a post off the site or putting it
    # back is an action (it moves the task too), never a field edited by hand.
    readonly_fields = ["task", "generation", "models_used", "sources", "approved_at",
                       "approved_by_role", "approved_hash", "unpublished_at", "tag_slugs",
                       "category_slug", "body_html", "created_at", "updated_at"]  # fmt: skip
    prepopulated_fields = {"slug": ["title"]}
    form = PostForm
    history_list_display = ["source"]

    def has_change_permission(self, request, obj=None) -> bool:
        return is_editor(request.user) or super().has_change_permission(request, obj)

    # --- The list ----------------------------------------------------------------------

    @admin.display(description="Status")
    def status(self, post: Post) -> str:
        return post_status(post)

    @admin.display(description="Models used")
    def models(self, post: Post) -> str:
        return ", ".join(post.models_used) or "-"

    # --- Editing -----------------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        if change:
            # Only what the editor changed: the form shows times to the second, and an
            # untouched field must keep its stored value exactly (or it is a "change").
            stored = Post.objects.get(pk=obj.pk)
            for name in form.fields:
                if name not in form.changed_data:
                    attname = Post._meta.get_field(name).attname
                    setattr(obj, attname, getattr(stored, attname))
        obj._withdrawn = self.save_post(request, obj) is None

    def save_post(self, request, post: Post) -> Post | None:
        """Save an edit; None when the post was withdrawn instead (its text goes back to
        approval: the workflow's admin does that)."""
        return post_update(post=post, user=request.user, reason="edited in admin")

    def revert_post(self, request, post: Post, version_id: int) -> Post | None:
        """Restore a version as a new one; None when the post was withdrawn instead."""
        return post_revert(post=post, version_id=version_id, user=request.user)

    def response_change(self, request, obj):
        if getattr(obj, "_withdrawn", False):
            return self._withdrawn(request, obj)
        return super().response_change(request, obj)

    def _withdrawn(self, request, post: Post):
        messages.warning(
            request,
            "The text of a post that was not live yet changed after approval: the post "
            "is withdrawn and the edited draft awaits approval again.",
        )
        return redirect("admin:tasks_contenttask_change", post.task_id)

    # --- History: who, when, why, provenance, diff, revert ---------------------------

    @admin.display(description="Source")
    def source(self, version) -> str:
        return _provenance(version)

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        """The "Changes" column: the same field-by-field diff as the version page and
        the API (the selector's), shortened."""
        records = list(historical_records)
        for index, record in enumerate(records):
            previous = records[index + 1] if index + 1 < len(records) else None
            if previous is None:
                previous = post_version_before(record)
            if previous is None:
                record.history_delta_changes = [{"field": "(first version)", "old": "",
                                                 "new": "every field added"}]  # fmt: skip
                continue
            record.history_delta_changes = [
                _delta(change) for change in post_version_diff(version=record, previous=previous)
            ]

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        """A version's page: its diff against the version before it (GET), and revert
        (POST) through `post_revert`. simple-history's own page here is a form whose
        POST saves whatever it holds; ours restores the version itself, as a new one."""
        post = self.get_object(request, unquote(object_id))
        if post is None:
            raise Http404("No such post.")
        if not self.has_view_history_or_change_history_permission(request, post):
            raise PermissionDenied
        try:
            version = post_version_get(post=post, version_id=version_id)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        may_revert = self.has_change_permission(request, post)
        if request.method == "POST":
            if not may_revert:
                raise PermissionDenied
            return self._revert(request, post, version)
        previous = post_version_before(version)
        changes = []
        for change in post_version_diff(version=version, previous=previous):
            changes.append(
                {"field": change["field"], "before": _shown(change["before"]),
                 "after": _shown(change["after"]),
                 "lines": _diff_lines(change["unified_diff"] or "")}
            )  # fmt: skip
        context = {
            **self.admin_site.each_context(request),
            "title": f"Version {version.history_id} of {post}",
            "opts": self.model._meta,
            "post": post,
            "version": version,
            "previous": previous,
            "change_type": {"+": "created", "~": "changed", "-": "deleted"}.get(
                version.history_type, version.history_type
            ),
            "provenance": _provenance(version),
            "changes": changes,
            "may_revert": may_revert,
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/publishing/post/version.html", context)

    def _revert(self, request, post: Post, version):
        number = version.history_id
        newest = post_versions(post).values_list("history_id", flat=True).first()
        try:
            reverted = self.revert_post(request, post, number)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return redirect(reverse("admin:publishing_post_history", args=[post.pk]))
        if reverted is None:
            return self._withdrawn(request, post)
        self.log_change(request, reverted, f"Reverted to version {number}.")
        now_newest = post_versions(reverted).values_list("history_id", flat=True).first()
        if now_newest == newest:
            self.message_user(
                request, f"The post already reads as version {number}: nothing changed.",
                messages.INFO,
            )  # fmt: skip
        else:
            self.message_user(
                request, f"Reverted to version {number}, saved as version {now_newest}.",
                messages.SUCCESS,
            )  # fmt: skip
        return redirect(reverse("admin:publishing_post_history", args=[post.pk]))
