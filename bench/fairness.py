"""Fair shares: how long one user's task waits behind another user's backlog.

    python bench/fairness.py                      # A: 500 tasks, then B: 1, three times
    python bench/fairness.py --backlog 200 --max-runs-per-user 1

One worker with two runs in flight (concurrency 2), offline providers, production
settings, no beat. First B submits one task with nothing else queued (the baseline),
--rounds times, each once the one before is done. Then A submits --backlog tasks, one
after the other as an integrator's script would, and once they are all queued B submits
one task, again --rounds times (A's backlog still waiting). For each of B's tasks: the
wait from submission to its run's start and to `awaiting_approval`, in seconds and in
slots (the runs of other tasks started between B's submission and B's start). Target:
B waits no more than 3 slots, whatever A's backlog.

Uses a database of its own (<name>_bench_fairness): a run takes whichever pending task's
turn it is, so it must not see other benches' tasks. Tasks an earlier, interrupted run
left unfinished there are cancelled first (as every bench does), and A's backlog at the
end.
"""

import argparse
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from _common import Processes, Worker, cancel_leftovers, configure, production_env, purge_broker

TIMEOUT = 300.0


@dataclass
class Wait:
    start: float  # seconds from submission to the run's start
    done: float  # seconds from submission to awaiting_approval
    slots: int  # runs of other tasks started between B's submission and B's start
    a_pending: int  # A's tasks still pending when B's run started


def submit(user, topic: str, length: int):
    from tasks.services import task_create

    return task_create(user=user, topic=topic, keywords=["compost", "soil"], target_length=length)


def b_waits(b, a, *, length: int, worker: Worker, label: str, since: datetime) -> Wait:
    """B submits one task; wait until it awaits approval and measure its waits (A's
    tasks counted are those submitted since `since`)."""
    from tasks.models import ContentTask, Status

    task = submit(b, f"B's one {label} article about rain barrels", length)
    deadline = time.monotonic() + TIMEOUT
    while True:
        task.refresh_from_db()
        if task.status == Status.AWAITING_APPROVAL:
            break
        if task.status not in (Status.PENDING, Status.IN_PROGRESS):
            raise SystemExit(f"B's task ended {task.status}: {task.error}")
        if time.monotonic() > deadline:
            raise SystemExit(f"B's task was still {task.status} after {TIMEOUT:.0f}s")
        worker.check_alive()
        time.sleep(0.02)
    others = ContentTask.objects.exclude(pk=task.pk)
    slots = others.filter(started_at__gt=task.created_at, started_at__lt=task.started_at).count()
    # Pending when B's run started: submitted before it and not started by then.
    a_tasks = ContentTask.objects.filter(
        created_by=a, created_at__gte=since, created_at__lt=task.started_at
    )
    a_pending = a_tasks.exclude(started_at__lt=task.started_at).count()
    return Wait(
        start=(task.started_at - task.created_at).total_seconds(),
        done=(task.completed_at - task.created_at).total_seconds(),
        slots=slots,
        a_pending=a_pending,
    )


def line(label: str, waits: list[Wait]) -> str:
    def median(values: list[float]) -> float:
        return statistics.median(values)

    each = ", ".join(f"{w.start:.2f}s/{w.done:.2f}s/{w.slots}" for w in waits)
    return (
        f"{label:<22} to start {median([w.start for w in waits]):6.2f}s, "
        f"to awaiting_approval {median([w.done for w in waits]):6.2f}s, "
        f"slots {median([w.slots for w in waits]):.0f} (max {max(w.slots for w in waits)})"
        f"   [each start/approval/slots: {each}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=500, help="A's tasks, submitted first")
    parser.add_argument("--rounds", type=int, default=3, help="B's tasks, one after the other")
    parser.add_argument("--length", type=int, default=800, help="target length in words")
    parser.add_argument("--concurrency", type=int, default=2, help="runs in flight")
    parser.add_argument(
        "--max-runs-per-user", type=int, default=0, help="MAX_RUNS_PER_USER (0: no cap)"
    )
    args = parser.parse_args()

    env = {**production_env(), "MAX_RUNS_PER_USER": str(args.max_runs_per_user)}
    queue = configure("fairness", database_suffix="bench_fairness", env=env)
    from django.contrib.auth import get_user_model

    from tasks.models import ContentTask, Status

    users = get_user_model().objects
    a, _ = users.get_or_create(username="bench-fairness-a")
    b, _ = users.get_or_create(username="bench-fairness-b")
    try:
        with Processes(queue) as processes:
            worker = Worker(processes, queue, concurrency=args.concurrency)
            worker.start()
            worker.wait_ready()
            submit(a, "A warm-up article about mulch", args.length)  # imports, pools, caches
            while ContentTask.objects.filter(created_by=a, status=Status.PENDING).exists():
                time.sleep(0.05)
            since = datetime.now(tz=UTC)
            alone = [
                b_waits(b, a, length=args.length, worker=worker, label=f"alone {i}", since=since)
                for i in range(args.rounds)
            ]
            began, since = time.monotonic(), datetime.now(tz=UTC)
            for i in range(args.backlog):
                submit(a, f"A's backlog article {i} about compost heaps", args.length)
            submitting = time.monotonic() - began
            behind = [
                b_waits(b, a, length=args.length, worker=worker, label=f"behind {i}", since=since)
                for i in range(args.rounds)
            ]
            run_seconds = [
                (task.completed_at - task.started_at).total_seconds()
                for task in ContentTask.objects.filter(
                    created_by=a, created_at__gte=since, completed_at__isnull=False
                )
            ]
    finally:
        cancel_leftovers()  # A's backlog
        purge_broker(queue)

    cap = args.max_runs_per_user or "no cap"
    print(
        f"fairness: one worker, {args.concurrency} runs in flight, offline providers, "
        f"{args.length} words, MAX_RUNS_PER_USER {cap}; A submitted {args.backlog} tasks "
        f"in {submitting:.1f}s, then B one task, {args.rounds} times in turn"
    )
    if run_seconds:
        print(f"a run (start -> awaiting_approval): p50 {statistics.median(run_seconds):.2f}s")
    print(line("B, nothing queued", alone))
    print(line(f"B, behind A's {args.backlog}", behind))
    print(
        "A's tasks still pending when B's runs started: "
        + ", ".join(str(wait.a_pending) for wait in behind)
    )
    worst = max(wait.slots for wait in behind)
    print(f"B waited at most {worst} slot(s) behind A's backlog (target: 3 or fewer)")


if __name__ == "__main__":
    main()
