"""Crash recovery: tasks through the offline pipeline while the worker is SIGKILLed
several times; completed, duplicated, lost, and time to recover.

    python bench/crash_recovery.py                 # 200 tasks, 5 kills
    python bench/crash_recovery.py -n 100 --kills 3

Each kill takes the worker's whole process group (main process and prefork pool, as an
OOM kill or a lost machine would), and a new worker is started at once. Kills are spread
evenly over the run by completed tasks. What the killed worker was running is recovered
by the lease: PIPELINE_LEASE_SECONDS is short here, and tasks.tasks.dispatch_waiting_tasks
(Celery beat's job in production) is called from this process every --dispatch-interval
seconds, sending again the pending tasks older than PIPELINE_DISPATCH_GRACE and the
running ones whose heartbeat is stale.

Uses a database of its own (<name>_bench_crash): the dispatcher re-sends every waiting
task of the database it runs on, so it must not see other benches' tasks. Tasks an
earlier, interrupted run left unfinished there are cancelled first.
"""

import argparse
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from _common import Processes, Worker, configure, purge_broker


@dataclass
class Kill:
    at: float  # epoch seconds
    completed: int  # tasks completed when the worker was killed
    # Tasks in_progress right after the kill: the killed worker's runs, and earlier lost
    # runs not yet taken over.
    in_flight: list[str] = field(default_factory=list)


def clear_leftovers() -> int:
    from tasks.models import ACTIVE_STATUSES, ContentTask, Status

    return (
        ContentTask.objects.alive()
        .filter(status__in=ACTIVE_STATUSES)
        .update(status=Status.CANCELLED, lease_id=None, deleted_at=datetime.now(tz=UTC))
    )


def seconds(value: float | None, expected: bool = True) -> str:
    if value is None:
        return "never" if expected else "-"
    return f"{value:.2f}s"


def summary(values: list[float]) -> str:
    if not values:
        return "-"
    return f"p50 {statistics.median(values):.2f}s, max {max(values):.2f}s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="tasks to run")
    parser.add_argument("--kills", type=int, default=5, help="SIGKILLs of the worker")
    parser.add_argument("--length", type=int, default=300, help="target length in words")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument("--timeout", type=float, default=180, help="seconds before giving up")
    parser.add_argument("--lease", type=float, default=3, help="PIPELINE_LEASE_SECONDS")
    parser.add_argument("--grace", type=int, default=5, help="PIPELINE_DISPATCH_GRACE")
    parser.add_argument("--dispatch-interval", type=float, default=1.0, help="seconds")
    args = parser.parse_args()

    queue = configure(
        "crash",
        database_suffix="bench_crash",
        env={
            "PIPELINE_LEASE_SECONDS": str(args.lease),
            "PIPELINE_DISPATCH_GRACE": str(args.grace),
        },
    )
    from django.contrib.auth import get_user_model
    from django.db.models import Count

    from tasks.models import ContentTask, StageRun, StageRunStatus, Status
    from tasks.services import task_create
    from tasks.tasks import dispatch_waiting_tasks

    cleared = clear_leftovers()
    thresholds = [round(args.n * (i + 1) / (args.kills + 1)) for i in range(args.kills)]
    kills: list[Kill] = []
    sent_again = 0
    ours = ContentTask.objects.filter(category=queue)
    try:
        with Processes(queue) as processes:
            worker = Worker(processes, queue, concurrency=args.concurrency)
            worker.start()
            worker.wait_ready()
            user, _ = get_user_model().objects.get_or_create(username="bench")
            started = time.time()
            for i in range(args.n):
                task_create(
                    user=user,
                    topic=f"Crash recovery article {i} about observability for small teams",
                    keywords=["observability", "tracing", "alerting"],
                    category=queue,
                    target_length=args.length,
                )
            deadline = time.monotonic() + args.timeout
            next_dispatch = time.monotonic() + args.dispatch_interval
            while (done := ours.filter(status=Status.AWAITING_APPROVAL).count()) < args.n:
                if time.monotonic() > deadline:
                    break
                if len(kills) < len(thresholds) and done >= thresholds[len(kills)]:
                    worker.kill()
                    kill = Kill(at=time.time(), completed=done)
                    worker.start()
                    kill.in_flight = [
                        str(pk)
                        for pk in ours.filter(status=Status.IN_PROGRESS).values_list(
                            "pk", flat=True
                        )
                    ]
                    kills.append(kill)
                else:
                    worker.check_alive()
                if time.monotonic() >= next_dispatch:
                    sent_again += dispatch_waiting_tasks()
                    next_dispatch += args.dispatch_interval
                time.sleep(0.05)
            ended = time.time()
    finally:
        purge_broker(queue)

    finished = {
        str(pk): completed_at.timestamp()
        for pk, completed_at in ours.filter(status=Status.AWAITING_APPROVAL).values_list(
            "pk", "completed_at"
        )
    }
    completions = sorted(finished.values())
    failed = ours.filter(status=Status.FAILED).count()
    lost = args.n - len(finished)
    runs = StageRun.objects.filter(task__category=queue)
    duplicated = (
        runs.filter(status__in=[StageRunStatus.SUCCEEDED, StageRunStatus.SKIPPED])
        .values("task", "generation", "stage")
        .annotate(results=Count("id"))
        .filter(results__gt=1)
        .values("task")
        .distinct()
        .count()
    )
    discarded = runs.filter(error__startswith="duplicate").count()
    abandoned = runs.filter(status=StageRunStatus.RUNNING).count()
    history = ContentTask.history.filter(category=queue)
    completed_twice = (
        history.filter(history_change_reason="pipeline finished")
        .values("id")
        .annotate(times=Count("history_id"))
        .filter(times__gt=1)
        .count()
    )
    resumed = history.filter(history_change_reason="pipeline resumed after a lost run").count()

    next_completion: list[float] = []
    in_flight_done: list[float] = []
    kill_lines = []
    seen: set[str] = set()
    for number, kill in enumerate(kills, 1):
        new = len(set(kill.in_flight) - seen)
        seen.update(kill.in_flight)
        after = next((c - kill.at for c in completions if c > kill.at), None)
        flight = [finished.get(pk) for pk in kill.in_flight]
        flight_done = None
        if flight and None not in flight:
            flight_done = max(f for f in flight if f is not None) - kill.at
            in_flight_done.append(flight_done)
        if after is not None:
            next_completion.append(after)
        kill_lines.append(
            f"  kill {number} at +{kill.at - started:.1f}s: {kill.completed} completed, "
            f"{len(kill.in_flight)} in progress ({new} new since the last kill); "
            f"next completion after {seconds(after)}, "
            f"in-progress tasks all completed after {seconds(flight_done, bool(flight))}"
        )
    wall = (max(completions) if lost == 0 else ended) - started

    print(
        f"crash recovery: {args.n} tasks, offline providers, target length {args.length} "
        f"words, worker concurrency {args.concurrency}, {len(kills)} SIGKILLs of the worker's "
        f"process group (a new worker started at once)"
    )
    print(
        f"lease {args.lease:g}s, dispatch grace {args.grace}s; dispatcher: "
        f"tasks.tasks.dispatch_waiting_tasks() called from the bench process every "
        f"{args.dispatch_interval:g}s (no celery beat); it sent {sent_again} message(s) again"
    )
    if cleared:
        print(f"(cancelled {cleared} unfinished task(s) left by an earlier run first)")
    print(f"completed (awaiting_approval): {len(finished)}/{args.n} ({len(finished) / args.n:.1%})")
    print(f"lost (not completed after {args.timeout:g}s): {lost} (of which failed: {failed})")
    print(
        f"duplicated (tasks with >1 succeeded/skipped StageRun per generation+stage): {duplicated}"
    )
    print(f"duplicate attempts discarded (StageRun error 'duplicate...'): {discarded}")
    print(f"tasks completed more than once (history 'pipeline finished'): {completed_twice}")
    print(f"lost runs taken over (history 'pipeline resumed after a lost run'): {resumed}")
    print(f"stage attempts abandoned by killed workers (StageRun left 'running'): {abandoned}")
    print(f"time to recover, kill -> next task completed: {summary(next_completion)}")
    print(f"time to recover, kill -> all tasks in progress at the kill completed: "
          f"{summary(in_flight_done)}")  # fmt: skip
    print("\n".join(kill_lines))
    print(f"wall time {wall:.1f}s, throughput {len(finished) / wall:.2f} tasks/s")


if __name__ == "__main__":
    main()
