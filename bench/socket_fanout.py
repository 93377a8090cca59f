"""Socket fan-out: many WebSockets on one web process, held idle, then sent events.

    python bench/socket_fanout.py                      # 100, then 1,000 sockets
    python bench/socket_fanout.py --sockets 1000 --hold 60 --events 30

One daphne process (started as `make run` starts it), the Redis channel layer, and
clients that are not browsers (the `websockets` library: no Origin header, no pings of
its own) connecting with `?token=`. The sockets watch --tasks tasks on
/ws/tasks/{id}/, spread evenly. For each count it prints:

- connect time: from opening the TCP connection to the task's current state arriving
  (handshake, token auth, group join, first read), at most 100 handshakes at a time;
- the web process's resident memory before and after, and per socket;
- whether every socket was still open after --hold seconds without any traffic;
- delivery latency of events broadcast as the pipeline does (tasks.events.broadcast
  from a thread of this process), from just before the broadcast to arrival, and how
  many (socket, event) deliveries were missing.
"""

import argparse
import asyncio
import json
import resource
import time
import uuid
from pathlib import Path

from _common import Processes, configure, latency_line, purge_broker

from devtools.processes import free_port, wait_for_port, web_command

HANDSHAKES_AT_ONCE = 100


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run_round(
    args, *, sockets: int, port: int, daphne_pid: int, owner, token: str, tasks
) -> None:
    from websockets.asyncio.client import connect

    from tasks.events import broadcast, progress_message

    handshakes = asyncio.Semaphore(HANDSHAKES_AT_ONCE)
    connect_ms: list[float] = []
    rss_before = rss_mib(daphne_pid)

    async def open_one(task):
        async with handshakes:
            started = time.perf_counter()
            socket = await connect(
                f"ws://127.0.0.1:{port}/ws/tasks/{task.pk}/?token={token}",
                ping_interval=None,
                open_timeout=60,
                max_queue=None,
            )
            first = json.loads(await asyncio.wait_for(socket.recv(), 60))
            connect_ms.append((time.perf_counter() - started) * 1000)
            assert first["task_id"] == str(task.pk), first
            return str(task.pk), socket

    opened = await asyncio.gather(*(open_one(tasks[i % len(tasks)]) for i in range(sockets)))
    rss_after = rss_mib(daphne_pid)
    by_task: dict[str, list] = {}
    for task_id, socket in opened:
        by_task.setdefault(task_id, []).append(socket)

    await asyncio.sleep(args.hold)
    still_open = sum(1 for _, s in opened if s.close_code is None)

    # Readers stamp each arrival; the broadcasts run in a thread, as in a worker.
    arrivals: dict[tuple[int, str], float] = {}

    async def read(index: int, socket) -> None:
        try:
            while True:
                message = json.loads(await socket.recv())
                if message.get("type") == "task.progress":
                    arrivals[(index, message["message"])] = time.time()
        except Exception:  # closed at the end of the round
            return

    readers = [asyncio.create_task(read(i, s)) for i, (_, s) in enumerate(opened)]
    sent: list[tuple[str, str, float]] = []
    for n in range(args.events):
        task = tasks[n % len(tasks)]
        label = f"bench event {n}"
        event = progress_message(task, label)
        sent.append((str(task.pk), label, time.time()))
        await asyncio.to_thread(broadcast, event, created_by_id=owner.pk)
        await asyncio.sleep(args.interval)
    expected = sum(len(by_task.get(task_id, [])) for task_id, _, _ in sent)
    deadline = time.monotonic() + 30
    while len(arrivals) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    latencies = []
    index_task = {i: task_id for i, (task_id, _) in enumerate(opened)}
    for task_id, label, at in sent:
        for i, watched in index_task.items():
            if watched == task_id and (i, label) in arrivals:
                latencies.append((arrivals[(i, label)] - at) * 1000)
    for _, socket in opened:
        await socket.close()
    await asyncio.gather(*readers, return_exceptions=True)

    print(f"{sockets} sockets on /ws/tasks/{{id}}/ ({len(tasks)} tasks), one daphne process:")
    print("  " + latency_line("connect (handshake to first state message)", connect_ms))
    per_socket = (rss_after - rss_before) * 1024 / sockets
    print(
        f"  web process memory: {rss_before:.0f} MiB before, {rss_after:.0f} MiB with all "
        f"open ({per_socket:.0f} KiB per socket)"
    )
    print(f"  still open after {args.hold:.0f} s idle: {still_open} of {sockets}")
    print("  " + latency_line(f"event delivery ({args.events} events)", latencies))
    print(f"  deliveries missing: {expected - len(latencies)} of {expected}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--tasks", type=int, default=10, help="tasks the sockets watch")
    parser.add_argument("--hold", type=float, default=60.0, help="idle seconds before events")
    parser.add_argument("--events", type=int, default=30, help="events broadcast per round")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between events")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = max(args.sockets) * 2 + 256
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))

    queue = configure("fanout", env={"DEBUG": "true", "ALLOWED_HOSTS": "127.0.0.1,localhost"})
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from tasks.models import ContentTask

    owner, _ = get_user_model().objects.get_or_create(username=f"bench-fanout-{queue}")
    token = Token.objects.get_or_create(user=owner)[0].key
    tasks = [
        ContentTask.objects.create(created_by=owner, topic=f"Fan-out {i} {uuid.uuid4().hex[:6]}")
        for i in range(args.tasks)
    ]
    port = free_port()
    try:
        with Processes(queue) as processes:
            daphne = processes.spawn("daphne", web_command("127.0.0.1", port))
            wait_for_port(port, daphne)
            for sockets in args.sockets:
                asyncio.run(
                    run_round(
                        args, sockets=sockets, port=port, daphne_pid=daphne.pid,
                        owner=owner, token=token, tasks=tasks,
                    )
                )  # fmt: skip
                if daphne.poll() is not None:
                    raise SystemExit("daphne exited:\n" + processes.log_tail("daphne"))
    finally:
        ContentTask.objects.filter(pk__in=[t.pk for t in tasks]).delete()
        purge_broker(queue)


if __name__ == "__main__":
    main()
