"""LLM throughput: tasks whose every model call waits on the network, on one worker host.

    python bench/llm_throughput.py                  # 1 task alone, then 100 at once
    python bench/llm_throughput.py -n 200 --delay 2 --processes 1

A fake OpenAI-compatible server on loopback (tests/fakes.py) answers each call after
`--delay` seconds (1 s): five calls a task (research, draft, review, image, SEO), so a
task alone takes a little over five seconds. The workers are those `make run` starts
(WORKER_PROCESSES of them, 2, each with the pool and concurrency of the settings).
They run one task alone, then `-n` tasks created in one transaction (so sent at once).
Printed: each run's makespan (first task created to last one awaiting approval) and
their ratio, the most calls the server had in flight at one moment, the workers' peak
memory, the database connections they held and the CPU they spent. Every prompt is new
(the topics carry the run's id), so no call is answered from the response cache.

Target (the issue): 100 tasks within 3x the time of one alone, the workers under 1 GB.
"""

import argparse
import os
import threading
import time
import uuid

from _common import ROOT, Processes, Worker, configure, production_env, purge_broker

TIMEOUT = 600.0
WORKER_APP_NAME = "bench-llm-worker"


class Peak:
    """Samples the processes' resident memory (added up) and their database
    connections (by their application name) in a background thread, keeping the
    highest of each."""

    def __init__(self, pids: list[int], app_name: str) -> None:
        self.pids, self.app_name = pids, app_name
        self.rss_mb = 0.0
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from django.db import connection

        try:
            while not self._stop.wait(0.2):
                self.rss_mb = max(self.rss_mb, sum(_rss_mb(pid) for pid in self.pids))
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                        [self.app_name],
                    )
                    (count,) = cursor.fetchone()
                self.connections = max(self.connections, count)
        finally:
            connection.close()

    def __enter__(self) -> "Peak":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of the process so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_tasks(n: int, *, tag: str, workers: list[Worker]) -> float:
    """Create n tasks in one transaction (their runs are sent when it commits) and
    return the seconds until the last one awaits approval."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from tasks.models import ACTIVE_STATUSES, ContentTask, Status
    from tasks.services import task_create

    user, _ = get_user_model().objects.get_or_create(username="bench")
    started = time.monotonic()
    with transaction.atomic():
        ids = [
            task_create(
                user=user,
                topic=f"Rain gardens for small yards, take {tag}-{i}",
                keywords=["rain garden", "native plants"],
                target_length=300,
            ).pk
            for i in range(n)
        ]
    ours = ContentTask.objects.filter(pk__in=ids)
    deadline = started + TIMEOUT
    while (done := ours.filter(status=Status.AWAITING_APPROVAL).count()) < n:
        for worker in workers:
            worker.check_alive()
        if ours.exclude(status__in=[*ACTIVE_STATUSES, Status.AWAITING_APPROVAL]).exists():
            failed = ours.exclude(status__in=[*ACTIVE_STATUSES, Status.AWAITING_APPROVAL])
            raise SystemExit(f"a task ended {failed.first().status}: {failed.first().error}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{done}/{n} tasks done in {TIMEOUT:.0f}s")
        time.sleep(0.05)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100, help="tasks submitted at once")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds per model call")
    parser.add_argument(
        "--concurrency", type=int, default=None, help="threads a worker (default: the settings')"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="worker processes on the host (default: WORKER_PROCESSES, 2, as make run)",
    )
    args = parser.parse_args()

    import sys

    sys.path.insert(0, str(ROOT))
    from tests.fakes import FakeLLMServer

    with FakeLLMServer(delay=args.delay) as llm:
        queue = configure("llm", env={**production_env(), **llm.env()})
        from django.conf import settings

        from devtools.processes import worker_processes

        run_id = uuid.uuid4().hex[:6]
        count = args.processes or worker_processes()
        try:
            with Processes(queue) as processes:
                workers = [
                    Worker(processes, queue, concurrency=args.concurrency) for _ in range(count)
                ]
                # The workers' database connections carry a name of their own, to count.
                os.environ["PGAPPNAME"] = WORKER_APP_NAME
                for number, worker in enumerate(workers):
                    worker.started = number  # node names worker1, worker2, ...
                    worker.start()
                del os.environ["PGAPPNAME"]
                for worker in workers:
                    worker.wait_ready()
                pids = [worker.process.pid for worker in workers if worker.process]
                with Peak(pids, WORKER_APP_NAME) as peak:
                    run_tasks(count, tag=f"{run_id}-warmup", workers=workers)
                    before = len(llm.requests)
                    one = run_tasks(1, tag=f"{run_id}-alone", workers=workers)
                    calls_alone = len(llm.requests) - before
                    llm.most_in_flight, before = 0, len(llm.requests)
                    cpu_before = sum(_cpu_seconds(pid) for pid in pids)
                    many = run_tasks(args.n, tag=f"{run_id}-many", workers=workers)
                    cpu = sum(_cpu_seconds(pid) for pid in pids) - cpu_before
                    calls = (len(llm.requests) - before) / args.n
        finally:
            purge_broker(queue)
    concurrency = args.concurrency or settings.CELERY_WORKER_CONCURRENCY
    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool", {})
    print(
        f"llm throughput: fake OpenAI-compatible server answering each call after "
        f"{args.delay:g}s; {count} worker process(es) ({settings.CELERY_WORKER_POOL} pool, "
        f"concurrency {concurrency}, database pool max {pool.get('max_size', '-')} each)"
    )
    print(f"1 task alone:      {one:.1f} s ({calls_alone} calls)")
    print(
        f"{args.n} tasks at once: {many:.1f} s, {many / one:.2f}x one task alone "
        f"({calls:.0f} calls a task, at most {llm.most_in_flight} in flight at once)"
    )
    print(
        f"workers: peak memory {peak.rss_mb:.0f} MB in all, at most {peak.connections} "
        f"database connections, {cpu:.1f} s of CPU for the {args.n} tasks "
        f"({cpu / args.n * 1000:.0f} ms a task, {cpu / many:.0%} of a core)"
    )
    target = many <= 3 * one and peak.rss_mb < 1024
    print(f"target (within 3x of one task, workers under 1 GB): {'met' if target else 'NOT met'}")


if __name__ == "__main__":
    main()
