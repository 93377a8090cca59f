"""Time from task creation to `awaiting_approval` through the offline pipeline, with a
real Celery worker process, broker and database.

    make bench                          # embedded or configured services
    python bench/pipeline_latency.py -n 20 --length 800

Uses its own database (<name>_bench), created and migrated on first use.
"""

import argparse
import statistics
import time

from _common import Processes, Worker, configure, percentile, purge_broker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="tasks to run")
    parser.add_argument("--length", type=int, default=800, help="target length in words")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    args = parser.parse_args()

    queue = configure("latency")
    from django.contrib.auth import get_user_model

    from tasks.models import ContentTask, Status
    from tasks.services import task_create

    try:
        with Processes(queue) as processes:
            worker = Worker(processes, queue, concurrency=args.concurrency)
            worker.start()
            worker.wait_ready()
            user, _ = get_user_model().objects.get_or_create(username="bench")
            started = time.monotonic()
            ids = [
                task_create(
                    user=user,
                    topic=f"Benchmark article {i} about observability for small teams",
                    keywords=["observability", "tracing", "alerting"],
                    target_length=args.length,
                ).pk
                for i in range(args.n)
            ]
            tasks = ContentTask.objects.filter(pk__in=ids)
            while tasks.filter(status=Status.AWAITING_APPROVAL).count() < len(ids):
                if tasks.filter(status=Status.FAILED).exists():
                    raise SystemExit("a task failed")
                worker.check_alive()
                time.sleep(0.05)
            wall = time.monotonic() - started
    finally:
        purge_broker(queue)

    latency = [(t.completed_at - t.created_at).total_seconds() for t in tasks]
    run_time = [(t.completed_at - t.started_at).total_seconds() for t in tasks]
    print(
        f"tasks: {args.n}, target length {args.length} words, worker concurrency {args.concurrency}"
    )
    print(f"creation -> awaiting_approval: p50 {statistics.median(latency):.3f}s, "
          f"p95 {percentile(latency, 0.95):.3f}s, max {max(latency):.3f}s")  # fmt: skip
    print(f"pipeline run (start -> done):  p50 {statistics.median(run_time):.3f}s, "
          f"p95 {percentile(run_time, 0.95):.3f}s")  # fmt: skip
    print(f"wall time {wall:.2f}s, throughput {args.n / wall:.2f} tasks/s")


if __name__ == "__main__":
    main()
