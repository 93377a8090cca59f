"""Reads of the audit trail: editors' decisions (listed, filtered, exported) and one
task's whole timeline."""

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from publishing.models import Post
from tasks.interfaces import Histogram
from tasks.models import ContentTask, Status
from tasks.selectors import stage_run_error_for, task_get_for_user

from .models import ApprovalDecision, DraftComment, PlanDecision, ReviewClaim

# Rows PostgreSQL hands over per fetch from the server-side cursor of an export: the
# memory an export holds, whatever the number of rows it sends.
CSV_CHUNK_SIZE = 1000

CSV_HEADER = [
    "id",
    "task_id",
    "generation",
    "round",
    "decision",
    "reviewer",
    "claimed_by",
    "feedback",
    "content_hash",
    "publish_at",
    "request_ip",
    "created_at",
    "acknowledged_claims",
    "step",
    "step_name",
]

# A cell a spreadsheet would read as a formula (OWASP "CSV injection"); free text that
# starts like one is written with a leading apostrophe, which spreadsheets show as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def approval_list(
    *,
    task=None,
    reviewer: str | None = None,
    decision: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[ApprovalDecision]:
    """Decisions, newest first, narrowed by whichever filters are given: the task's id,
    the reviewer's username (exact), the decision, and `since <= created_at < until`
    (a half-open window, so consecutive windows never count a decision twice)."""
    qs = ApprovalDecision.objects.select_related("reviewer", "claimed_by")
    if task is not None:
        qs = qs.filter(task_id=task)
    if reviewer is not None:
        qs = qs.filter(reviewer__username=reviewer)
    if decision is not None:
        qs = qs.filter(decision=decision)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    return qs.order_by("-created_at", "-id")


def _text(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _when(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _claims(claims: list[dict]) -> str:
    """The acknowledged claims in one cell, one a line: `[n] sentence (reason)`."""
    return _text(
        "\n".join(
            f"[{claim.get('source')}] {claim.get('sentence', '')} ({claim.get('reason', '')})"
            for claim in claims or []
        )
    )


def approval_csv_rows(queryset: QuerySet[ApprovalDecision]) -> Iterator[list[str]]:
    """The header (CSV_HEADER), then one row of strings per decision in the queryset's
    order. Rows are read through a server-side cursor CSV_CHUNK_SIZE at a time, never
    all at once; nothing is read until the first data row is asked for."""
    yield list(CSV_HEADER)
    for record in queryset.iterator(chunk_size=CSV_CHUNK_SIZE):
        yield [
            str(record.pk),
            str(record.task_id),
            str(record.generation),
            str(record.round),
            record.decision,
            _text(record.reviewer.get_username()),
            _text(record.claimed_by.get_username()) if record.claimed_by else "",
            _text(record.feedback),
            record.content_hash,
            _when(record.publish_at),
            record.request_ip or "",
            _when(record.created_at),
            _claims(record.acknowledged_claims),
            str(record.step),
            _text(record.step_name),
        ]


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


def task_timeline(*, user, task_id) -> list[dict[str, Any]]:
    """The task's audit trail, oldest first, if the user may read the task (owner or
    editor; NotFound otherwise): each history record of the task (kind "status": who,
    when, why), each stage attempt ("stage_run"), each editor decision on a draft
    ("decision") or on a plan ("plan_decision": the outline decided) and each version
    of its post ("post_version": its publication, scheduled or not, and
    later edits). Events at the same instant keep that order. A handful of queries,
    whatever the number of events."""
    task = task_get_for_user(user=user, task_id=task_id)  # stage runs prefetched
    events: list[dict[str, Any]] = []
    for record in task.history.select_related("history_user").order_by("history_date", "pk"):
        events.append(
            {
                "kind": "status",
                "at": record.history_date,
                "status": record.status,
                "stage": record.stage,
                "progress": record.progress,
                "who": _username(record.history_user),
                "why": record.history_change_reason or "",
                "what": record.history_type,
            }
        )
    for run in task.stage_runs.all():
        events.append(
            {
                "kind": "stage_run",
                "at": run.started_at,
                "stage": run.stage,
                "generation": run.generation,
                "attempt": run.attempt,
                "status": run.status,
                "model": run.model,
                "cost": str(run.cost),
                "finished_at": run.finished_at,
                "error": stage_run_error_for(user=user, stage_run=run),
            }
        )
    decisions = ApprovalDecision.objects.filter(task=task).select_related("reviewer", "claimed_by")
    for decision in decisions.order_by("created_at", "id"):
        events.append(
            {
                "kind": "decision",
                "at": decision.created_at,
                "decision": decision.decision,
                "reviewer": _username(decision.reviewer),
                "feedback": decision.feedback,
                "generation": decision.generation,
                "round": decision.round,
                "step": decision.step,
                "step_name": decision.step_name,
                "publish_at": decision.publish_at,
                "content_hash": decision.content_hash,
                "claimed_by": _username(decision.claimed_by),
            }
        )
    plans = PlanDecision.objects.filter(task=task).select_related("reviewer")
    for plan in plans.order_by("created_at", "id"):
        events.append(
            {
                "kind": "plan_decision",
                "at": plan.created_at,
                "decision": plan.decision,
                "reviewer": _username(plan.reviewer),
                "feedback": plan.feedback,
                "generation": plan.generation,
                "outline": plan.outline,
            }
        )
    # The post's versions are found by task, so they stay in the trail even if the
    # post has been unlinked since.
    versions = Post.history.filter(task_id=task.pk).select_related("history_user")
    for version in versions.order_by("history_date", "history_id"):
        events.append(
            {
                "kind": "post_version",
                "at": version.history_date,
                "who": _username(version.history_user),
                "why": version.history_change_reason or "",
                "what": version.history_type,
                "slug": version.slug,
                "title": version.title,
                "published_at": version.published_at,
            }
        )
    # sorted() is stable: a tie keeps the order of the kinds above.
    return sorted(events, key=lambda event: event["at"])


def review_claim_of(task) -> ReviewClaim | None:
    """Who is reviewing the task's draft, if anyone."""
    return ReviewClaim.objects.filter(task=task).select_related("editor").first()


def approval_reviewer_names() -> list[str]:
    """Usernames of everyone who has decided a draft, alphabetically."""
    return sorted(
        set(ApprovalDecision.objects.values_list("reviewer__username", flat=True).distinct())
    )


def decision_wait_histogram(bounds: Sequence[float], /) -> dict[str, Histogram]:
    """For each kind of decision, the seconds each decision on a draft came after the
    draft reached `awaiting_approval` (the latest move into it, in the task's history,
    before the decision: a regenerated draft or a re-opened approval starts a new wait),
    counted into cumulative `bounds`. One statement, one pass over the decided tasks'
    history: each task's moves into awaiting approval and its decisions, in time order,
    each decision paired with the latest move before it. A decision whose task's
    history holds no such move is left out."""
    history = ContentTask.history.model._meta.db_table
    decisions = ApprovalDecision._meta.db_table
    columns = ", ".join("count(*) FILTER (WHERE seconds <= %s)" for _ in bounds)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH moves AS (
                SELECT h.id AS task_id, h.history_date AS at, h.status = %s AS awaiting,
                       lag(h.status = %s) OVER (
                           PARTITION BY h.id ORDER BY h.history_date, h.history_id
                       ) AS was_awaiting
                FROM {history} h
                WHERE h.id IN (SELECT task_id FROM {decisions})
            ), timeline AS (
                SELECT task_id, at, NULL AS decision FROM moves
                WHERE awaiting AND was_awaiting IS NOT TRUE
                UNION ALL
                SELECT task_id, created_at, decision FROM {decisions}
            ), waits AS (
                SELECT decision, extract(epoch FROM at - max(at) FILTER (
                           WHERE decision IS NULL) OVER (
                           PARTITION BY task_id ORDER BY at, decision NULLS FIRST
                           ROWS UNBOUNDED PRECEDING))::float8 AS seconds
                FROM timeline
            )
            SELECT decision, count(*), coalesce(sum(seconds), 0), {columns}
            FROM waits
            WHERE decision IS NOT NULL AND seconds IS NOT NULL
            GROUP BY decision
            """,  # noqa: S608 - table names from the models; the values are parameters
            [Status.AWAITING_APPROVAL.value, Status.AWAITING_APPROVAL.value, *bounds],
        )
        return {
            decision: Histogram(list(cumulative), count, float(total))
            for decision, count, total, *cumulative in cursor.fetchall()
        }


def comment_list_for_task(*, user, task_id) -> QuerySet[DraftComment]:
    """The comments (and replies) on a task's drafts, oldest first, for a user who may
    read the task (its owner or an editor; NotFound otherwise)."""
    task = task_get_for_user(user=user, task_id=task_id)
    return DraftComment.objects.filter(task=task).select_related("author", "resolved_by")
