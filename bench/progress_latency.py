"""Progress latency: from the worker's broadcast to the WebSocket client, p50/p99.

    python bench/progress_latency.py               # 50 offline tasks
    python bench/progress_latency.py -n 20 --length 800

A real daphne server (contentpipeline.asgi) and a real Celery worker; a WebSocket client
(bench/_ws_client.py: autobahn on Twisted, both installed with daphne) follows
/ws/tasks/?token=... as the tasks' owner. Each event carries "timestamp", set when the
event is built, just before the commit that triggers its broadcast; latency = time the
client received it - timestamp (one machine, one clock).
"""

import argparse
import time
from datetime import datetime

from _common import (
    Processes,
    Worker,
    configure,
    latency_line,
    purge_broker,
)

from devtools.processes import free_port, wait_for_port, web_command

TIMEOUT = 150.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50, help="tasks to run")
    parser.add_argument("--length", type=int, default=300, help="target length in words")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    args = parser.parse_args()

    queue = configure("progress", env={"DEBUG": "true", "ALLOWED_HOSTS": "127.0.0.1,localhost"})
    from _ws_client import Listener
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from tasks.models import PIPELINE_STAGES, ContentTask, Status
    from tasks.services import task_create

    user, _ = get_user_model().objects.get_or_create(username="bench-progress")
    token = Token.objects.get_or_create(user=user)[0].key
    port = free_port()
    ids: set[str] = set()
    try:
        with Processes(queue) as processes:
            daphne = processes.spawn("daphne", web_command("127.0.0.1", port))
            worker = Worker(processes, queue, concurrency=args.concurrency)
            worker.start()
            wait_for_port(port, daphne)
            worker.wait_ready()
            listener = Listener(
                f"ws://127.0.0.1:{port}/ws/tasks/?token={token}", f"http://127.0.0.1:{port}"
            )
            listener.connect()
            try:
                for i in range(args.n):
                    task = task_create(
                        user=user,
                        topic=f"Progress latency article {i} about observability for small teams",
                        keywords=["observability", "tracing", "alerting"],
                        category=queue,
                        target_length=args.length,
                    )
                    ids.add(str(task.pk))
                ours = ContentTask.objects.filter(category=queue)
                deadline = time.monotonic() + TIMEOUT
                while ours.filter(status=Status.AWAITING_APPROVAL).count() < args.n:
                    worker.check_alive()
                    if ours.filter(status=Status.FAILED).exists():
                        raise SystemExit("a task failed")
                    if time.monotonic() > deadline:
                        raise SystemExit(f"the tasks did not complete in {TIMEOUT:.0f}s")
                    time.sleep(0.1)
                # The last events may still be on their way.
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    done = {
                        event["task_id"]
                        for _, event in listener.events(ids)
                        if event["status"] == Status.AWAITING_APPROVAL
                    }
                    if done == ids:
                        break
                    time.sleep(0.05)
            finally:
                listener.close()
    finally:
        purge_broker(queue)

    worker_ms: list[float] = []
    queued_ms: list[float] = []
    for received_at, event in listener.events(ids):
        ms = (received_at - datetime.fromisoformat(event["timestamp"]).timestamp()) * 1000
        # "Task queued" is broadcast by task_create in this process, not by the worker.
        (queued_ms if event["message"] == "Task queued" else worker_ms).append(ms)
    # Pipeline started, each stage started and finished, draft ready.
    expected = args.n * (2 + 2 * len(PIPELINE_STAGES))
    print(
        f"progress latency: {args.n} tasks, offline providers, target length {args.length} "
        f"words, worker concurrency {args.concurrency}; daphne on 127.0.0.1:{port}, one "
        f"client on /ws/tasks/?token=... (autobahn/Twisted)"
    )
    print(latency_line(f"worker events (expected {expected})", worker_ms))
    print(latency_line("'Task queued' events from task_create in the bench process", queued_ms))


if __name__ == "__main__":
    main()
