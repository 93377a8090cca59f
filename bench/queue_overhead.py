"""Queue overhead: no-op tasks through the real broker and worker, tasks/s and
enqueue-to-start latency p50/p99, beside a bare Celery no-op task in the same run.

    python bench/queue_overhead.py                # 3 rounds of 1,000 of each
    python bench/queue_overhead.py -n 200 --rate 10   # paced: latency without a backlog

bare:     bench.noop_tasks.noop, which only records when it started (a Redis list).
pipeline: run_pipeline_task on ContentTask rows whose five stages already have
          succeeded outputs, sent as the dispatcher sends (task_dispatch_many; one by
          one with task_dispatch when paced): it claims the task (pending ->
          in_progress with a lease, started_at), finds every stage done and completes it
          (awaiting_approval, completed_at), broadcasting both changes.

Both kinds go through the same worker (the settings' pool and concurrency, production
settings: DEBUG off), real Redis broker, same priority; warm-up tasks of each kind run
first and are not counted, then rounds of each kind in turn, so that what else the
machine runs weighs on both; the median round of each is shown. Enqueue-to-start
includes the time a task waits behind the ones sent before it: without --rate
everything is sent at once, so the tail shows the backlog; with --rate the sending is
paced.
"""

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from _common import Processes, Worker, configure, percentile, production_env, purge_broker

if TYPE_CHECKING:
    from tasks.models import ContentTask

TIMEOUT = 180.0


@dataclass
class Run:
    label: str
    sent: list[float]  # when each task was handed to the broker (epoch seconds)
    started: list[float]  # when the worker started it, same order
    last_done: float
    send_seconds: float
    run_seconds: list[float] | None = None  # pipeline only: claim -> completed

    @property
    def throughput(self) -> float:
        return len(self.sent) / (self.last_done - min(self.sent))

    def line(self) -> str:
        wait = [(start - sent) * 1000 for sent, start in zip(self.sent, self.started, strict=True)]
        text = (
            f"{self.label:<9} N {len(self.sent)}, {self.throughput:.1f} tasks/s, "
            f"enqueue->start p50 {statistics.median(wait):.1f} ms, "
            f"p99 {percentile(wait, 0.99):.1f} ms, max {max(wait):.1f} ms "
            f"(sending took {self.send_seconds:.2f}s)"
        )
        if self.run_seconds:
            ms = [s * 1000 for s in self.run_seconds]
            text += (
                f"; claim->done p50 {statistics.median(ms):.1f} ms, "
                f"p99 {percentile(ms, 0.99):.1f} ms"
            )
        return text


def median_run(runs: list[Run]) -> Run:
    """The round of median throughput."""
    return sorted(runs, key=lambda run: run.throughput)[len(runs) // 2]


def send_paced(count: int, rate: float, send: Callable[[int], None]) -> float:
    """Call send(i) for each i, at `rate` per second (0: as fast as possible); returns
    how long the sending took."""
    began = time.monotonic()
    for i in range(count):
        if rate:
            delay = began + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        send(i)
    return time.monotonic() - began


def run_bare(n: int, *, queue: str, priority: int, rate: float, worker: Worker) -> Run:
    import redis
    from django.conf import settings

    from bench.noop_tasks import noop

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)  # as bench.noop_tasks
    key = f"{queue}:noop:{uuid.uuid4().hex[:8]}"
    try:
        send_seconds = send_paced(
            n, rate, lambda _i: noop.apply_async(args=[key, time.time()], priority=priority)
        )
        deadline = time.monotonic() + TIMEOUT
        while client.llen(key) < n:
            worker.check_alive()
            if time.monotonic() > deadline:
                raise SystemExit(f"bare: {client.llen(key)}/{n} tasks started in {TIMEOUT:.0f}s")
            time.sleep(0.05)
        records = [tuple(map(float, raw.split())) for raw in client.lrange(key, 0, -1)]
    finally:
        client.delete(key)
    sent = [record[0] for record in records]
    started = [record[1] for record in records]
    return Run("bare", sent, started, last_done=max(started), send_seconds=send_seconds)


def create_done_tasks(n: int, marker: str) -> list["ContentTask"]:
    """Pending tasks whose five stages already have succeeded outputs (generation 1)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from tasks.models import PIPELINE_STAGES, ContentTask, StageRun, StageRunStatus

    user, _ = get_user_model().objects.get_or_create(username="bench")
    tasks = ContentTask.objects.bulk_create(
        [
            ContentTask(
                created_by=user,
                topic=f"Queue overhead no-op {i}",
                keywords=["bench"],
                primary_keyword="bench",
                category=marker,
                target_length=300,
            )
            for i in range(n)
        ],
        batch_size=500,
    )
    now = timezone.now()
    StageRun.objects.bulk_create(
        [
            StageRun(
                task=task,
                generation=1,
                stage=stage,
                status=StageRunStatus.SUCCEEDED,
                started_at=now,
                finished_at=now,
                output={"bench": stage},
            )
            for task in tasks
            for stage in PIPELINE_STAGES
        ],
        batch_size=2000,
    )
    return tasks


def run_pipeline(n: int, *, queue: str, rate: float, worker: Worker) -> Run:
    from tasks.models import ACTIVE_STATUSES, ContentTask, Status
    from tasks.services.dispatch import task_dispatch, task_dispatch_many

    marker = f"{queue}-{uuid.uuid4().hex[:6]}"
    tasks = create_done_tasks(n, marker)
    sent_at: dict[str, float] = {}
    if rate:

        def send(i: int) -> None:
            task = tasks[i]
            sent_at[str(task.pk)] = time.time()
            if not task_dispatch(task_id=task.pk, priority=task.celery_priority):
                raise SystemExit("the broker refused a message")

        send_seconds = send_paced(n, rate, send)
    else:  # all at once, as the dispatcher sends what is waiting
        began = time.time()
        sent_at = dict.fromkeys((str(task.pk) for task in tasks), began)
        runs = [(task.pk, task.celery_priority) for task in tasks]
        if task_dispatch_many(runs=runs) != n:
            raise SystemExit("the broker refused a message")
        send_seconds = time.time() - began
    ours = ContentTask.objects.filter(category=marker)
    deadline = time.monotonic() + TIMEOUT
    while (done := ours.filter(status=Status.AWAITING_APPROVAL).count()) < n:
        worker.check_alive()
        if ours.exclude(status__in=[*ACTIVE_STATUSES, Status.AWAITING_APPROVAL]).exists():
            raise SystemExit("pipeline: a task ended in another status than awaiting_approval")
        if time.monotonic() > deadline:
            raise SystemExit(f"pipeline: {done}/{n} tasks completed in {TIMEOUT:.0f}s")
        time.sleep(0.05)
    rows = list(ours.values_list("pk", "started_at", "completed_at"))
    sent = [sent_at[str(pk)] for pk, _, _ in rows]
    started = [started_at.timestamp() for _, started_at, _ in rows]
    completed = [completed_at.timestamp() for _, _, completed_at in rows]
    return Run(
        "pipeline",
        sent,
        started,
        last_done=max(completed),
        send_seconds=send_seconds,
        run_seconds=[done - start for start, done in zip(started, completed, strict=True)],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="tasks of each kind")
    parser.add_argument("--warmup", type=int, default=20, help="uncounted tasks of each kind")
    parser.add_argument(
        "--concurrency", type=int, default=None, help="worker threads (default: the settings')"
    )
    parser.add_argument("--rate", type=float, default=0, help="tasks/s to send (0: all at once)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of each kind, taken in turn (median shown)"
    )
    args = parser.parse_args()

    # A database of its own, new each run: the polls for completed tasks scan the task
    # tables, and with earlier runs' tasks in them the scans took PostgreSQL more time
    # than the tasks measured.
    queue = configure("overhead", database_suffix="overhead", fresh=True, env=production_env())
    from tasks.models import CELERY_PRIORITY, Priority

    priority = CELERY_PRIORITY[Priority.NORMAL]
    try:
        with Processes(queue) as processes:
            worker = Worker(
                processes, queue, concurrency=args.concurrency, include=["bench.noop_tasks"]
            )
            worker.start()
            worker.wait_ready()
            common = {"queue": queue, "worker": worker}
            if args.warmup:
                run_bare(args.warmup, priority=priority, rate=0, **common)
                run_pipeline(args.warmup, rate=0, **common)
            # In turn, so a change in what else the machine runs weighs on both kinds.
            bares, pipelines = [], []
            for _ in range(args.rounds):
                bares.append(run_bare(args.n, priority=priority, rate=args.rate, **common))
                pipelines.append(run_pipeline(args.n, rate=args.rate, **common))
    finally:
        purge_broker(queue)
    bare, pipeline = median_run(bares), median_run(pipelines)

    sending = f"paced at {args.rate:g}/s" if args.rate else "all sent at once"
    from django.conf import settings

    concurrency = args.concurrency or settings.CELERY_WORKER_CONCURRENCY
    print(
        f"queue overhead: real Redis broker, one worker ({settings.CELERY_WORKER_POOL} pool, "
        f"concurrency {concurrency}), "
        f"priority {priority}, {sending}, after {args.warmup} warm-up tasks of each kind; "
        f"{args.rounds} rounds of each in turn, the median round shown"
    )
    print(bare.line())
    print(pipeline.line())
    for label, runs in (("bare", bares), ("pipeline", pipelines)):
        print(f"{label} rounds: " + ", ".join(f"{run.throughput:.1f}" for run in runs) + " tasks/s")
    if not args.rate:  # when paced, both kinds run at the sending rate
        print(
            f"pipeline / bare: {pipeline.throughput / bare.throughput:.0%} of the bare task's "
            f"throughput ({bare.throughput / pipeline.throughput:.1f}x the time per task), "
            f"{pipeline.throughput:.1f} vs {bare.throughput:.1f} tasks/s"
        )


if __name__ == "__main__":
    main()
