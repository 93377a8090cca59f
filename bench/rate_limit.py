"""Rate limit: 100 tasks against a model server that allows 120 requests a minute.

    python bench/rate_limit.py                      # 100 tasks, 120 requests a minute
    python bench/rate_limit.py -n 20 --rpm 600      # a shorter run

A fake OpenAI-compatible server on loopback (tests/fakes.py, RateLimitedLLMServer)
enforces the limit as OpenAI does: a token bucket refilled continuously at `--rpm` a
minute that holds one second's worth (2 requests at 120 a minute: OpenAI enforces a
per-minute limit over shorter periods), a 429 with Retry-After and retry-after-ms past
it, and the x-ratelimit-* headers on every answer. Each accepted call is answered after
`--latency` seconds. The workers are those `make run` starts (WORKER_PROCESSES of them,
2, each with the pool and concurrency of the settings); the `-n` tasks are created in
one transaction (so sent at once) with generate_image false and QUALITY_THRESHOLD 0,
which keeps each task to its four text calls (research, draft, review, SEO). Every
prompt is new (the topics carry the run's id), so no call is answered from the cache.

Printed: the total time (first task created to last one awaiting approval), the time
the limit allows for the calls the server accepted (the burst at once, then one per
refill), their ratio, and the calls answered 429 and their share of all calls.

Target (the issue): within 1.2x the time the limit allows, under 2% of calls a 429.
"""

import argparse
import sys
import time
import uuid

from _common import ROOT, Processes, Worker, configure, production_env, purge_broker

TIMEOUT = 1200.0


def run_tasks(n: int, *, tag: str, workers: list[Worker]) -> tuple[float, int]:
    """Create n tasks in one transaction and wait until each awaits approval or has
    failed: (seconds taken, tasks failed)."""
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
                generate_image=False,
            ).pk
            for i in range(n)
        ]
    ours = ContentTask.objects.filter(pk__in=ids)
    deadline = started + TIMEOUT
    while ours.filter(status__in=ACTIVE_STATUSES).exists():
        for worker in workers:
            worker.check_alive()
        if time.monotonic() > deadline:
            raise SystemExit(f"tasks still running after {TIMEOUT:.0f}s")
        time.sleep(0.1)
    elapsed = time.monotonic() - started
    failed = ours.exclude(status=Status.AWAITING_APPROVAL)
    if failed.exists():
        print(f"{failed.count()} task(s) ended {failed.first().status}: {failed.first().error}")
    return elapsed, failed.count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100, help="tasks submitted at once")
    parser.add_argument("--rpm", type=int, default=120, help="requests a minute the server allows")
    parser.add_argument(
        "--latency", type=float, default=0.5, help="seconds the server takes per accepted call"
    )
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from tests.fakes import RateLimitedLLMServer

    with RateLimitedLLMServer(per_minute=args.rpm, latency=args.latency) as llm:
        env = {**production_env(), **llm.env(), "QUALITY_THRESHOLD": "0"}
        queue = configure("ratelimit", env=env)
        from django.conf import settings

        from devtools.processes import worker_processes

        count = worker_processes()
        try:
            with Processes(queue) as processes:
                workers = [Worker(processes, queue) for _ in range(count)]
                for number, worker in enumerate(workers):
                    worker.started = number  # node names worker1, worker2, ...
                    worker.start()
                for worker in workers:
                    worker.wait_ready()
                elapsed, failed = run_tasks(args.n, tag=uuid.uuid4().hex[:6], workers=workers)
        finally:
            purge_broker(queue)
    calls = llm.accepted + llm.limited
    allowed = llm.allowed_seconds(llm.accepted)
    ratio = elapsed / allowed if allowed else float("inf")
    share = llm.limited / calls if calls else 0.0
    print(
        f"rate limit: fake OpenAI-compatible server allowing {args.rpm} requests a minute "
        f"(token bucket holding {llm.burst:g}, 429 past it), {args.latency:g}s a call; "
        f"{count} worker process(es) ({settings.CELERY_WORKER_POOL} pool, concurrency "
        f"{settings.CELERY_WORKER_CONCURRENCY}); {args.n} tasks, generate_image false, "
        f"QUALITY_THRESHOLD 0"
    )
    print(
        f"calls accepted: {llm.accepted} ({llm.accepted / args.n:.1f} a task), "
        f"tasks awaiting approval: {args.n - failed}/{args.n}"
    )
    print(f"total time:   {elapsed:.1f} s")
    print(f"limit allows: {allowed:.1f} s for {llm.accepted} calls")
    print(f"ratio:        {ratio:.3f} (target <= 1.2)")
    print(f"answered 429: {llm.limited} of {calls} calls, {share:.2%} (target < 2%)")
    met = ratio <= 1.2 and share < 0.02 and not failed
    print(f"target: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
