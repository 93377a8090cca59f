"""Operational numbers for GET /api/metrics (staff), GET /metrics (Prometheus, through
tasks.prometheus) and GET /api/health."""

from collections.abc import Sequence
from typing import Any, NamedTuple

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from contentpipeline.cache import cache_stats, tier_get_or_set

from .interfaces import decision_timings
from .models import CELERY_PRIORITY, ContentTask, Priority, StageRun, Status

# Kombu's Redis transport keeps one list per priority step: the queue's own name for
# step 0, the name plus this separator and the step for the others.
PRIORITY_SEPARATOR = "\x06\x16"
FINISHED_OK = (Status.AWAITING_APPROVAL, Status.APPROVED, Status.PUBLISHED, Status.REJECTED)


def broker_queue_lengths() -> dict[str, int] | str:
    """Messages waiting in the broker, by task priority."""
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    try:
        with redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2
        ) as client:
            lengths = {}
            for priority, step in CELERY_PRIORITY.items():
                key = queue if step == 0 else f"{queue}{PRIORITY_SEPARATOR}{step}"
                lengths[str(priority)] = client.llen(key)
            return lengths
    except redis.RedisError as exc:
        return f"error: {exc}"


def tasks_by_status() -> dict[str, int]:
    """Tasks (not deleted) by status, every status named."""
    by_status = {s.value: 0 for s in Status}
    by_status.update(
        dict(ContentTask.objects.alive().values_list("status").annotate(n=Count("pk")).order_by())
    )
    return by_status


def queue_depth_by_priority() -> dict[str, int]:
    """Pending tasks (not deleted) by priority, every priority named."""
    waiting = {p.value: 0 for p in Priority}
    waiting.update(
        dict(
            ContentTask.objects.alive()
            .filter(status=Status.PENDING)
            .values_list("priority")
            .annotate(n=Count("pk"))
            .order_by()
        )
    )
    return waiting


def usage_by_stage_and_model() -> list[dict[str, Any]]:
    """Every stage run's cost and tokens, summed by stage and model."""
    return list(
        StageRun.objects.values("stage", "model")
        .annotate(
            cost=Sum("cost"),
            tokens_in=Sum("tokens_in"),
            tokens_out=Sum("tokens_out"),
            runs=Count("pk"),
        )  # fmt: skip
        .order_by("stage", "model")
    )


def reviews_overdue() -> int:
    """Tasks awaiting review (a draft or a plan) past their due_at now."""
    return ContentTask.objects.overdue(timezone.now()).count()


# Seconds from a draft awaiting approval to a decision on it: minutes to a week.
DECISION_WAIT_BOUNDS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800)


def decision_waits() -> dict[str, dict[str, Any]]:
    """By kind of decision: how many decisions, their mean wait since the draft awaited
    approval, and how many came within each of DECISION_WAIT_BOUNDS (cumulative)."""
    return {
        decision: {
            "decisions": histogram.count,
            "avg_s": round(histogram.total_seconds / histogram.count, 1),
            "within_s": dict(
                zip(map(str, DECISION_WAIT_BOUNDS), histogram.cumulative, strict=True)
            ),
        }  # fmt: skip
        for decision, histogram in sorted(decision_timings()(DECISION_WAIT_BOUNDS).items())
        if histogram.count
    }


class DurationHistogram(NamedTuple):
    cumulative: list[int]  # runs that took at most each bound, in the bounds' order
    count: int
    total_seconds: float


def stage_duration_histogram(bounds: Sequence[float]) -> dict[str, DurationHistogram]:
    """Succeeded stage runs by stage, counted into cumulative duration buckets (the
    Prometheus histogram's `le` bounds, in seconds, ascending)."""
    columns = ", ".join("count(*) FILTER (WHERE seconds <= %s)" for _ in bounds)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT stage, count(*), coalesce(sum(seconds), 0), {columns}
            FROM (SELECT stage, extract(epoch FROM finished_at - started_at)::float8 AS seconds
                  FROM tasks_stagerun
                  WHERE status = 'succeeded' AND finished_at IS NOT NULL) AS runs
            GROUP BY stage
            """,  # noqa: S608 - the columns are placeholders; the values are parameters
            list(bounds),
        )
        return {
            stage: DurationHistogram(list(cumulative), count, float(total))
            for stage, count, total, *cumulative in cursor.fetchall()
        }


def stage_durations() -> dict[str, dict[str, float]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT stage, count(*),
                   avg(extract(epoch FROM finished_at - started_at)),
                   percentile_cont(0.5) WITHIN GROUP
                       (ORDER BY extract(epoch FROM finished_at - started_at)),
                   percentile_cont(0.95) WITHIN GROUP
                       (ORDER BY extract(epoch FROM finished_at - started_at))
            FROM tasks_stagerun
            WHERE status = 'succeeded' AND finished_at IS NOT NULL
            GROUP BY stage
            """
        )
        return {
            stage: {
                "runs": n,
                "avg_s": round(avg, 4),
                "p50_s": round(p50, 4),
                "p95_s": round(p95, 4),
            }  # fmt: skip
            for stage, n, avg, p50, p95 in cursor.fetchall()
        }


def metrics_snapshot() -> dict[str, Any]:
    """The numbers, computed at most once a minute (the `metrics` cache tier)."""
    return tier_get_or_set("metrics", "snapshot", _snapshot, versioned=False)


def _snapshot() -> dict[str, Any]:
    by_status = tasks_by_status()
    app_cache = cache_stats()
    ok = sum(by_status[s] for s in FINISHED_OK)
    failed = by_status[Status.FAILED]
    costs = usage_by_stage_and_model()
    return {
        "tasks_by_status": by_status,
        "queue_depth_by_priority": queue_depth_by_priority(),
        "broker_queue_by_priority": broker_queue_lengths(),
        "success_rate": round(ok / (ok + failed), 4) if ok + failed else None,
        "stage_durations": stage_durations(),
        "cost_by_stage_and_model": [{**row, "cost": str(row["cost"] or 0)} for row in costs],
        # This app's own lookups; Redis' server-wide numbers mix in the broker's and
        # the channel layer's.
        "reviews_overdue": reviews_overdue(),
        "review_decision_wait": decision_waits(),
        "cache_hit_ratio": app_cache["hit_ratio"],
        "cache": app_cache,
    }


def health() -> dict[str, str]:
    from contentpipeline.celery import app

    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any failure is what we report
        checks["database"] = f"error: {exc}"
    try:
        cache.set("health-check", "1", 5)
        checks["cache"] = "ok" if cache.get("health-check") == "1" else "error: no round trip"
    except Exception as exc:
        checks["cache"] = f"error: {exc}"
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"error: {exc}"
    try:
        # One answer is enough: the check ends as soon as a worker replies.
        replies = app.control.ping(timeout=1.0, limit=1) or []
        checks["workers"] = "ok" if replies else "error: no worker answered"
    except Exception as exc:
        checks["workers"] = f"error: {exc}"
    return checks
