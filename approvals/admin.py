"""The approval workflow in admin.

- The review desk: tasks awaiting approval (of a draft, or of a plan before the
  draft) come first in the task list, each with a review screen, and approve/reject
  actions for many drafts at once. A plan is approved (edited or not) or sent back on
  the review screen, where an editor also comments on a passage of the draft
  (selected in the text; static/contentpipeline/draft_comments.js fills the form),
  replies and resolves; the comments are listed beside the decision form. It extends the
  task admin of the tasks app (registered again here with the review screen and
  actions added).
- Posts: unpublish and publish again (selected posts), and edits and reverts that send
  a post not live yet back to approval when they change its approved text. It extends
  the post admin of the publishing app the same way.
- The audit trail of decisions, read-only, with the unsupported claims each approval
  acknowledged; and the plan decisions, read-only too.

Every action goes through `approvals.services`, the same services as the API and the
management command."""

import difflib

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import prefetch_related_objects
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import localize
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from contentpipeline.admin_site import EditorsMayViewMixin
from contentpipeline.errors import ApplicationError, NotFound
from contentpipeline.roles import is_editor
from contentpipeline.throttling import client_ip
from publishing.admin import PostAdmin
from publishing.models import Post
from tasks.admin import ContentTaskAdmin, report_results
from tasks.models import ContentTask, Status
from tasks.pipeline.claims import UNSUPPORTED, UNVERIFIABLE, open_unsupported
from tasks.pipeline.plan import PlanError, clean_outline
from tasks.pipeline.sources import readable_sources
from tasks.selectors import (
    task_content_hash,
    task_draft_version,
    task_draft_versions,
    task_feedback_history,
    task_get_for_user,
    task_research_sources,
    task_result,
    task_stage_log,
)
from tasks.services import task_draft_edit

from .exports import decisions_csv_response
from .models import ApprovalDecision, DraftComment, PlanDecision, Workflow, WorkflowStep
from .selectors import approval_reviewer_names, comment_list_for_task, review_claim_of
from .services import (
    UnsupportedClaims,
    approval_decide,
    approval_decide_many,
    comment_add,
    comment_resolve,
    plan_decide,
    post_edit,
    post_republish,
    post_revert,
    post_unpublish,
    review_claim,
    review_release,
)
from .workflows import is_reviewer, tasks_waiting_for, workflow_state


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
    # Shown only when the draft has unsupported claims (see ReviewDeskAdmin.review_view).
    acknowledge_unsupported = forms.BooleanField(
        required=False, label="Approve despite the unsupported claims listed above"
    )
    # The content hash of the text the page showed: the decision is of that text only.
    expected_content_hash = forms.RegexField(r"^[0-9a-f]{64}$", widget=forms.HiddenInput)
    # The workflow step the page showed: the decision is of that step only.
    workflow_step = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if data.get("decision") in ("reject", "request_changes") and not data.get("feedback"):
            self.add_error("feedback", "Feedback is required when rejecting a draft.")
        return data


def outline_text(outline: list[dict]) -> str:
    """The plan as the plan form edits it: `Heading | point | 1, 2` a line."""
    return "\n".join(
        " | ".join(
            [section["heading"], section.get("point") or "",
             ", ".join(str(n) for n in section.get("sources") or [])]
        )
        for section in outline
    )  # fmt: skip


def parse_outline(text: str) -> list[dict]:
    """`outline_text` read back: a line's first part is the heading, its last the
    source numbers (when it has three parts or more), what is between the point."""
    outline = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|")]
        heading, point, numbers = parts[0], "", ""
        if len(parts) == 2:
            point = parts[1]
        elif len(parts) > 2:
            point, numbers = " | ".join(parts[1:-1]), parts[-1]
        try:
            sources = [int(n) for n in numbers.replace(",", " ").split()]
        except ValueError as exc:
            raise PlanError(f"Line {number}: the sources are numbers, like 1, 2.") from exc
        outline.append({"heading": heading, "point": point, "sources": sources})
    return clean_outline(outline)


class PlanForm(forms.Form):
    DECISIONS = [
        ("approve", "Approve the plan: the draft is written to it"),
        ("send_back", "Send it back: research again, answering the feedback"),
    ]
    decision = forms.ChoiceField(choices=DECISIONS, widget=forms.RadioSelect)
    outline = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10, "cols": 100}),
        help_text="One section a line: Heading | the point it makes | source numbers "
        "(1, 2). Edit it before approving; the draft uses these headings, in this order.",
    )
    feedback = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def clean_outline(self) -> list[dict]:
        try:
            return parse_outline(self.cleaned_data["outline"])
        except PlanError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean(self):
        data = super().clean()
        if data.get("decision") == "send_back" and not data.get("feedback", "").strip():
            self.add_error("feedback", "Feedback is required when sending a plan back.")
        return data


class CommentForm(forms.Form):
    """A comment on a passage of the draft: the page's script fills `quote` with the
    editor's selection in the draft (it may be edited, and must stay in the text)."""

    quote = forms.CharField(max_length=DraftComment.MAX_QUOTE, strip=False)
    body = forms.CharField(max_length=DraftComment.MAX_BODY)


class ReplyForm(forms.Form):
    parent = forms.IntegerField(min_value=1)
    body = forms.CharField(max_length=DraftComment.MAX_BODY)


class ResolveForm(forms.Form):
    comment = forms.IntegerField(min_value=1)


def comment_threads(task: ContentTask, comments) -> list[dict]:
    """The task's comments as the review page lists them: open ones first, then the
    resolved, each oldest first, with its replies and whether it was made on an
    earlier text than the draft under review (another generation, or version)."""
    comments = list(comments)
    current = (task.generation, task_draft_version(task))
    replies: dict[int, list] = {}
    for comment in comments:
        if comment.parent_id is not None:
            replies.setdefault(comment.parent_id, []).append(comment)
    threads = [
        {"comment": comment, "replies": replies.get(comment.pk, []),
         "older": (comment.generation, comment.draft_version) != current}
        for comment in comments
        if comment.parent_id is None
    ]  # fmt: skip
    return sorted(threads, key=lambda thread: thread["comment"].resolved)


def form_errors(form: forms.Form) -> str:
    return " ".join(f"{message}" for messages_ in form.errors.values() for message in messages_)


class WaitingForFilter(admin.SimpleListFilter):
    """What an editor's review is waiting on: a draft, or a plan before the draft."""

    title = "waiting for review"
    parameter_name = "waiting"
    STATUSES = {"draft": Status.AWAITING_APPROVAL, "plan": Status.AWAITING_PLAN}

    def lookups(self, request, model_admin):
        return [("draft", "Drafts awaiting approval"), ("plan", "Plans awaiting approval")]

    def queryset(self, request, queryset):
        status = self.STATUSES.get(self.value())
        return queryset.filter(status=status) if status else queryset


class MyGroupsFilter(admin.SimpleListFilter):
    """Drafts whose current workflow step is decided by a group the user is in."""

    title = "workflow"
    parameter_name = "for_me"

    def lookups(self, request, model_admin):
        return [("groups", "Waiting for my groups")]

    def queryset(self, request, queryset):
        if self.value() != "groups":
            return queryset
        return tasks_waiting_for(request.user, queryset)


class BulkFeedbackForm(forms.Form):
    feedback = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))


class DraftEditForm(forms.Form):
    """What an editor may change before deciding; each save is a version of the draft."""

    title = forms.CharField(max_length=200)
    excerpt = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    body_markdown = forms.CharField(
        label="Body (Markdown)", widget=forms.Textarea(attrs={"rows": 20, "cols": 90})
    )
    seo_title = forms.CharField(max_length=60, required=False, label="SEO title")
    meta_description = forms.CharField(max_length=160, required=False)
    tags = forms.CharField(required=False, help_text="Comma-separated, at most 10.")

    def clean_tags(self) -> list[str]:
        return [tag.strip() for tag in self.cleaned_data["tags"].split(",") if tag.strip()]


def feedback_ledger(task: ContentTask, result: dict | None) -> list[dict]:
    """Every note of the task's feedback ledger, oldest first, each with whether the
    draft under review addresses it (None: the draft was not checked against it)."""
    checked = {(item["generation"], item["note"]): item["addressed"]
               for item in (result or {}).get("feedback_checklist") or []}  # fmt: skip
    return [
        {**note, "addressed": checked.get((note["generation"], note["note"]))}
        for note in task_feedback_history(task)
    ]


def body_diff(before: dict | None, after: dict | None) -> str:
    """The previous generation's text beside this one's, changes marked (HtmlDiff
    escapes the text it shows)."""
    if not before or not after:
        return ""

    def lines(result: dict) -> list[str]:
        return [f"# {result['title']}", "", *result["body_markdown"].splitlines()]

    table = difflib.HtmlDiff(wrapcolumn=70).make_table(
        lines(before), lines(after), "Previous generation", "This draft", context=True
    )
    return mark_safe(table)  # noqa: S308 - every line is escaped by HtmlDiff


# Flagged claims first: those an approval must acknowledge, then those nobody could check.
_CLAIM_ORDER = {UNSUPPORTED: 0, UNVERIFIABLE: 1}


def claim_rows(task: ContentTask, claims: list[dict]) -> list[dict]:
    """Every claim for the review page, flagged ones first (their order kept otherwise),
    each beside the source it is checked against: {"claim", "flagged", "source"
    ({"n", "title", "url", "link"}: `link` only for an http(s) URL), or None}."""
    sources = {source["n"]: source for source in task_research_sources(task)}
    rows = []
    for claim in sorted(claims, key=lambda claim: _CLAIM_ORDER.get(claim.get("verdict"), 2)):
        source = sources.get(claim.get("source"))
        if source is not None:
            url = str(source.get("url") or "")
            source = {"n": source["n"], "title": str(source.get("title") or ""), "url": url,
                      "link": url.lower().startswith(("http://", "https://"))}  # fmt: skip
        rows.append({"claim": claim, "flagged": claim.get("verdict") == UNSUPPORTED,
                     "source": source})  # fmt: skip
    return rows


# A bulk decision decides each draft as the list showed it: each row awaiting approval
# carries the content hash of its draft as the page was rendered, `<task id>:<hash>`.
SHOWN_FIELD = "content_hash_shown"


def shown_hashes(request) -> dict[str, str]:
    """Task id -> the content hash of its draft as the list showed it."""
    pairs = (value.partition(":") for value in request.POST.getlist(SHOWN_FIELD))
    return {task_id: content_hash for task_id, _, content_hash in pairs if content_hash}


class ReviewDeskAdmin(ContentTaskAdmin):
    list_display = ["topic", "status", "review_link", "due", "priority", "stage", "progress",
                    "created_by", "created_at"]  # fmt: skip
    actions = ["approve_selected", "reject_selected", "request_changes_selected",
               *ContentTaskAdmin.actions]  # fmt: skip
    list_filter = [WaitingForFilter, MyGroupsFilter, *ContentTaskAdmin.list_filter]

    def get_queryset(self, request):
        tasks = super().get_queryset(request).select_related("review_claim__editor")
        if not is_editor(request.user):
            # A reviewer of a later workflow step ("Legal") sees the drafts at their step.
            tasks = tasks_waiting_for(request.user, tasks)
        return tasks

    # Reviewers of a workflow step who are not editors see the list of their drafts
    # and their review pages; everything else stays the editors'.
    def has_module_permission(self, request) -> bool:
        return is_reviewer(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return is_reviewer(request.user)

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        # Each draft awaiting approval on the page has its hash in its row: its stage
        # outputs and edits are read for all of them at once, not row by row.
        awaiting = [task for task in changelist.result_list if task.may("approve")]
        prefetch_related_objects(awaiting, "stage_runs", "drafts")
        return changelist

    @admin.display(description="Review")
    def review_link(self, obj: ContentTask):
        if obj.may("approve_plan"):
            url = reverse("admin:tasks_contenttask_review", args=[obj.pk])
            return format_html('<a class="button" href="{}">Review plan</a>', url)
        if not obj.may("approve"):
            return "-"
        url = reverse("admin:tasks_contenttask_review", args=[obj.pk])
        shown = format_html(
            '<input type="hidden" name="{}" value="{}:{}">',
            SHOWN_FIELD, obj.pk, task_content_hash(obj),
        )  # fmt: skip
        claim = getattr(obj, "review_claim", None)
        if claim is None:
            return format_html('<a class="button" href="{}">Review draft</a>{}', url, shown)
        return format_html(
            '<a class="button" href="{}">Review draft</a> <span class="claim">being reviewed '
            "by {} since {}</span>{}",
            url, claim.editor, localize(claim.claimed_at), shown,
        )  # fmt: skip

    def get_urls(self):
        custom = [
            path(
                "<uuid:task_id>/review/",
                self.admin_site.admin_view(self.review_view),
                name="tasks_contenttask_review",
            )
        ]
        return custom + super().get_urls()

    def _task(self, request, task_id) -> ContentTask:
        try:
            return task_get_for_user(user=request.user, task_id=task_id)
        except NotFound as exc:
            raise Http404(exc.message) from exc

    def review_view(self, request, task_id):
        if not is_reviewer(request.user):
            raise PermissionDenied
        task = self._task(request, task_id)  # editors, and reviewers of its current step
        step = request.POST.get("step", "decide") if request.method == "POST" else None
        decide_form = ReviewForm(request.POST if step == "decide" else None)
        edit_form = DraftEditForm(request.POST if step == "edit" else None)
        plan_form = PlanForm(request.POST if step == "plan" else None)
        comment_form = CommentForm(request.POST if step == "comment" else None)
        if step is not None:
            forms_ = (decide_form, edit_form, plan_form, comment_form)
            done = self._review_step(request, task, step, *forms_)
            if done is not None:
                return done
            task = self._task(request, task_id)  # as it is now, after what the step did
        # The text is read once: the page shows it, and the decision form carries its
        # hash, so a decision sent from this page decides this text or nothing.
        result = task_result(task)
        workflow = workflow_state(task)
        shown = {"expected_content_hash": result["content_hash"] if result else "",
                 "workflow_step": workflow["step"] if workflow else None}  # fmt: skip
        if decide_form.is_bound:
            decide_form = ReviewForm({**request.POST.dict(), **shown})
        else:
            decide_form = ReviewForm(initial=shown)
        if workflow and workflow["step"] < len(workflow["steps"]):
            step, following = workflow["steps"][workflow["step"] - 1 : workflow["step"] + 1]
            decide_form.fields["decision"].choices = [
                ("approve", f"Approve step {workflow['step']} ({step['name']}): on to step "
                            f"{workflow['step'] + 1} ({following['name']}, {following['group']})"),
                *ReviewForm.DECISIONS[1:],
            ]  # fmt: skip
        claims = (result or {}).get("claims") or []
        unsupported = open_unsupported(claims)
        if not unsupported:
            # Nothing to acknowledge: the box would only ask a question with no subject.
            del decide_form.fields["acknowledge_unsupported"]
        if not edit_form.is_bound:
            edit_form = DraftEditForm(
                initial=dict(result or {}, tags=", ".join((result or {}).get("tags", [])))
            )
        plan = task.plan or {}
        if not plan_form.is_bound:
            plan_form = PlanForm(initial={"outline": outline_text(plan.get("outline") or [])})
        sources = []
        if task.status == Status.AWAITING_PLAN:
            sources = readable_sources({"sources": task_research_sources(task)})
        previous = task_result(task, task.generation - 1) if task.generation > 1 else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Review: {task.topic}",
            "task": task,
            "overdue": ContentTask.objects.overdue(timezone.now()).filter(pk=task.pk).exists(),
            "result": result,
            "previous": previous,
            "diff": body_diff(previous, result),
            "claims": claim_rows(task, claims),
            "unsupported_count": len(unsupported),
            "ledger": feedback_ledger(task, result),
            "stage_log": task_stage_log(task),
            "versions": task_draft_versions(task),
            "claim": review_claim_of(task),
            "form": decide_form,
            "edit_form": edit_form,
            "plan": plan if task.review_plan else None,
            "plan_form": plan_form,
            "plan_sources": sources,
            "comment_form": comment_form,
            "comments": comment_threads(
                task, comment_list_for_task(user=request.user, task_id=task.pk)
            ),
            "draft_version": task_draft_version(task),
            "workflow": workflow,
        }
        return TemplateResponse(request, "admin/approvals/review.html", context)

    def _review_step(self, request, task, step, decide_form, edit_form, plan_form, comment_form):
        """One POST of the review page: claim, take over, release, edit, decide, decide
        the plan, or comment on a passage, reply to a comment or resolve one. Returns
        the redirect when it is done, None to show the page (with errors)."""
        here = redirect("admin:tasks_contenttask_review", task.pk)
        try:
            if step in ("comment", "reply", "resolve"):
                return self._comment_step(request, task, step, comment_form)
            if step in ("claim", "take_over"):
                review_claim(task_id=task.pk, editor=request.user, take_over=step == "take_over")
                messages.success(request, "You are reviewing this draft.")
                return here
            if step == "release":
                review_release(task_id=task.pk, editor=request.user)
                return here
            if step == "edit" and edit_form.is_valid():
                task_draft_edit(task_id=task.pk, user=request.user, **edit_form.cleaned_data)
                messages.success(request, "Draft saved as a new version.")
                return here
            if step == "decide" and decide_form.is_valid():
                return self._decide(request, task, decide_form.cleaned_data)
            if step == "plan" and plan_form.is_valid():
                data = plan_form.cleaned_data
                approved = data["decision"] == "approve"
                plan_decide(
                    task_id=task.pk, reviewer=request.user, approved=approved,
                    feedback=data["feedback"], outline=data["outline"] if approved else None,
                    request_ip=client_ip(request),
                )  # fmt: skip
                messages.success(
                    request,
                    "Plan approved: the draft is being written to it." if approved
                    else "Plan sent back: the task is being researched again.",
                )  # fmt: skip
                return redirect("admin:tasks_contenttask_changelist")
        except UnsupportedClaims as exc:
            count = len(exc.extra["claims"])
            messages.error(
                request,
                f"Nothing was decided: the draft has {count} unsupported claim"
                f"{'s' if count != 1 else ''} (its cited source does not say it). Read "
                f"{'them' if count != 1 else 'it'} under Claims, then tick “"
                f"{ReviewForm.base_fields['acknowledge_unsupported'].label}” to approve anyway.",
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return None

    def _comment_step(self, request, task, step, comment_form):
        """A comment, a reply or a resolve from the review page: back to the comments
        when done; None (the page, with the errors) otherwise."""
        at_comments = redirect(
            reverse("admin:tasks_contenttask_review", args=[task.pk]) + "#comments"
        )
        if step == "comment":
            if not comment_form.is_valid():
                return None
            comment_add(task_id=task.pk, author=request.user, **comment_form.cleaned_data)
            messages.success(request, "Comment added.")
            return at_comments
        form = (ReplyForm if step == "reply" else ResolveForm)(request.POST)
        if not form.is_valid():
            messages.error(request, form_errors(form))
            return None
        if step == "reply":
            comment_add(task_id=task.pk, author=request.user, body=form.cleaned_data["body"],
                        parent_id=form.cleaned_data["parent"])  # fmt: skip
            messages.success(request, "Reply added.")
        else:
            comment_resolve(task_id=task.pk, comment_id=form.cleaned_data["comment"],
                            user=request.user)  # fmt: skip
            messages.success(request, "Comment resolved.")
        return at_comments

    def _decide(self, request, task, data):
        decision = data["decision"]
        _, post = approval_decide(
            task_id=task.pk,
            reviewer=request.user,
            approved=decision == "approve",
            feedback=data["feedback"],
            publish_at=data["publish_at"],
            regenerate=decision == "request_changes",
            request_ip=client_ip(request),
            expected_content_hash=data["expected_content_hash"],
            acknowledge_unsupported=data.get("acknowledge_unsupported", False),
            step=data.get("workflow_step"),
        )
        if post is not None:
            messages.success(request, f"Published “{post.title}” at {post.get_absolute_url()}")
        else:
            messages.success(request, "Decision recorded.")
        return redirect("admin:tasks_contenttask_changelist")

    def _decide_many(self, request, queryset, **decision) -> None:
        topics = {str(pk): topic for pk, topic in queryset.values_list("pk", "topic")}
        results = approval_decide_many(
            task_ids=list(topics), reviewer=request.user,
            request_ip=client_ip(request),
            expected_content_hashes=shown_hashes(request), **decision,
        )  # fmt: skip
        report_results(request, results, topics, "decided")

    @admin.action(description="Approve and publish selected drafts", permissions=["change"])
    def approve_selected(self, request, queryset):
        self._decide_many(request, queryset, approved=True)

    def _with_feedback(self, request, queryset, action: str, verb: str, **decision):
        form = BulkFeedbackForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._decide_many(request, queryset, feedback=form.cleaned_data["feedback"],
                              **decision)  # fmt: skip
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{verb} selected drafts",
            "verb": verb,
            "action": action,
            "tasks": queryset,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            # Passed on, so the drafts are decided as the list showed them.
            "shown_field": SHOWN_FIELD,
            "shown": request.POST.getlist(SHOWN_FIELD),
        }
        return TemplateResponse(request, "admin/approvals/bulk_feedback.html", context)

    @admin.action(description="Reject selected drafts (with feedback)", permissions=["change"])
    def reject_selected(self, request, queryset):
        return self._with_feedback(request, queryset, "reject_selected", "Reject",
                                   approved=False)  # fmt: skip

    @admin.action(description="Request changes to selected drafts (regenerate with feedback)",
                  permissions=["change"])  # fmt: skip
    def request_changes_selected(self, request, queryset):
        return self._with_feedback(
            request, queryset, "request_changes_selected", "Request changes to",
            approved=False, regenerate=True,
        )  # fmt: skip


admin.site.unregister(ContentTask)
admin.site.register(ContentTask, ReviewDeskAdmin)


class PostWorkflowAdmin(PostAdmin):
    """The post admin with the workflow's actions: a post taken off the site or put
    back moves its task too, and an edit or revert of a post not live yet that changes
    its approved text sends it back to approval (`post_edit`, `post_revert`)."""

    actions = ["unpublish_selected", "republish_selected"]

    def save_post(self, request, post: Post) -> Post | None:
        return post_edit(post=post, user=request.user, reason="edited in admin")

    def revert_post(self, request, post: Post, version_id: int) -> Post | None:
        return post_revert(post=post, version_id=version_id, user=request.user)

    @admin.action(description="Unpublish selected posts", permissions=["change"])
    def unpublish_selected(self, request, queryset):
        self._each(request, queryset, post_unpublish, "unpublished")

    @admin.action(description="Publish selected posts again", permissions=["change"])
    def republish_selected(self, request, queryset):
        self._each(request, queryset, post_republish, "published again")

    def _each(self, request, queryset, action, done: str) -> None:
        """The action for each post on its own; one message per post."""
        for post in queryset:
            name = Truncator(post.title).chars(60)
            try:
                action(post=post, user=request.user)
            except ApplicationError as exc:
                self.message_user(request, f"{name}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{name}: {done}.", messages.SUCCESS)


admin.site.unregister(Post)
admin.site.register(Post, PostWorkflowAdmin)


class ReviewerFilter(admin.SimpleListFilter):
    """Reviewers who have decided something (not every user of the site)."""

    title = "reviewer"
    parameter_name = "reviewer"

    def lookups(self, request, model_admin):
        return [(name, name) for name in approval_reviewer_names()]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(reviewer__username=value) if value else queryset


class ReadOnlyMixin:
    """An audit trail in the admin: read, never added to, changed or deleted there."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ApprovalDecision)
class ApprovalDecisionAdmin(ReadOnlyMixin, EditorsMayViewMixin, admin.ModelAdmin):
    """The audit trail: readable, never editable, by anyone. Filters by decision,
    reviewer and time (`created_at__gte` / `created_at__lt` in the address for any
    range), a search by task id or topic, and a CSV export of the selection."""

    list_display = ["created_at", "task", "generation", "round", "step", "step_name",
                    "decision", "reviewer", "claimed_by", "feedback", "claims_acknowledged",
                    "request_ip"]  # fmt: skip
    list_filter = ["decision", ReviewerFilter, ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=task__id", "task__topic"]
    date_hierarchy = "created_at"
    list_select_related = ["task", "reviewer", "claimed_by"]
    actions = ["export_csv"]
    readonly_fields = ["task", "generation", "round", "workflow", "step", "step_name",
                       "decision", "reviewer", "claimed_by", "feedback", "content_hash",
                       "publish_at", "request_ip", "created_at", "acknowledged"]  # fmt: skip

    @admin.display(description="Unsupported claims acknowledged")
    def claims_acknowledged(self, obj: ApprovalDecision) -> int:
        return len(obj.acknowledged_claims or [])

    @admin.display(description="Unsupported claims acknowledged")
    def acknowledged(self, obj: ApprovalDecision):
        if not obj.acknowledged_claims:
            return "-"
        items = format_html_join(
            "", "<li>[{}] {} <em>({})</em><br><small>Source: {}</small></li>",
            ((claim.get("source"), claim.get("sentence", ""), claim.get("reason", ""),
              claim.get("excerpt") or "-") for claim in obj.acknowledged_claims),
        )  # fmt: skip
        return format_html("<ul>{}</ul>", items)

    @admin.action(description="Export selected decisions as CSV")
    def export_csv(self, request, queryset):
        return decisions_csv_response(request, queryset.order_by("-created_at", "-id"))


@admin.register(PlanDecision)
class PlanDecisionAdmin(ReadOnlyMixin, EditorsMayViewMixin, admin.ModelAdmin):
    """The plan decisions' audit trail: readable, never editable, by anyone."""

    list_display = ["created_at", "task", "generation", "decision", "reviewer", "feedback",
                    "request_ip"]  # fmt: skip
    list_filter = ["decision", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=task__id", "task__topic"]
    date_hierarchy = "created_at"
    list_select_related = ["task", "reviewer"]
    readonly_fields = ["task", "generation", "decision", "reviewer", "feedback", "outline",
                       "request_ip", "created_at"]  # fmt: skip


class StepsFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        kept = [
            form
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE", False)
        ]
        if not kept:
            raise forms.ValidationError("A workflow needs at least one step.")


class WorkflowStepInline(admin.TabularInline):
    model = WorkflowStep
    formset = StepsFormSet
    extra = 1
    min_num = 1
    ordering = ["position"]
    fields = ["position", "name", "group"]

    # The steps are edited with their workflow, by whoever may edit it.
    def has_view_permission(self, request, obj=None) -> bool:
        return is_editor(request.user)

    def has_add_permission(self, request, obj=None) -> bool:
        return is_editor(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return is_editor(request.user)

    def has_delete_permission(self, request, obj=None) -> bool:
        return is_editor(request.user)


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    """Approval workflows: the steps a draft goes through, in order, each decided by a
    group. Editors (and superusers) edit them; a draft half-way through its steps
    keeps the workflow it started with (approvals.workflows)."""

    list_display = ["name", "task_type", "category", "is_default", "allow_same_reviewer",
                    "step_names"]  # fmt: skip
    list_filter = ["is_default", "task_type"]
    search_fields = ["name", "category"]
    inlines = [WorkflowStepInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("steps")

    @admin.display(description="Steps")
    def step_names(self, obj: Workflow) -> str:
        return " → ".join(step.name for step in obj.steps.all())

    def has_module_permission(self, request) -> bool:
        return is_editor(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return is_editor(request.user)

    def has_add_permission(self, request) -> bool:
        return is_editor(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return is_editor(request.user)

    def has_delete_permission(self, request, obj=None) -> bool:
        return is_editor(request.user)
