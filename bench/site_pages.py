"""Public site throughput: requests/s of a post page served from the page cache, the
same page rendered on every request, and a bare Django view, on the real ASGI server.

    make bench BENCH=bench/site_pages.py
    python bench/site_pages.py --posts 300 --connections 16 --duration 10

Creates --posts published posts (tags, categories, ~600-word bodies) in the bench
database, then starts daphne as `make run` does (devtools.processes.web_command),
with production settings (DEBUG off; HTTPS redirect and secure cookies off, as plain
HTTP on loopback needs) and the bench URLconf (bench/site_settings.py: the project's
URLs plus /bench/bare/). One client process drives it: asyncio, HTTP/1.1 keep-alive,
--connections connections each sending its next request as soon as the answer
arrived, for --duration seconds after a warm-up. Phases:

  (a) cached    GET /posts/<slug>/  page cache on (the default)
  (b) uncached  GET /posts/<slug>/  a server started the same way with SITE_CACHE=off
  (c) bare      GET /bench/bare/    a view returning a constant, on the server of (a)

Targets: cached >= 80% of bare, cached >= 3x uncached. The posts and the run's cache
keys are removed at the end (their history rows stay: no
code may delete a post's history).
"""

import argparse
import asyncio
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from _common import (
    Processes,
    configure,
    percentile,
    production_env,
    purge_broker,
)

from devtools.processes import free_port, stop, wait_for_port, web_command

TAGS = [
    "Composting", "Rainwater", "Beekeeping", "Soil Health", "Seed Saving", "Pollinators",
    "Mulching", "Raised Beds", "Cover Crops", "Greenhouses", "Irrigation", "Herbs",
    "Fruit Trees", "Pest Control", "Urban Gardening", "Native Plants", "Worm Farming",
    "Permaculture", "Tools", "Harvest",
]  # fmt: skip
CATEGORIES = ["Home & Garden", "Sustainability", "How-to", "Science", "Community"]
PARAGRAPH = (
    "Healthy soil holds water like a sponge, feeds the roots through a slow release of "
    "nutrients and shelters the countless organisms that keep a garden in balance. "
    "Small, steady habits matter more than any single product: add organic matter every "
    "season, keep the ground covered, and disturb it as little as you can. "
)


@dataclass
class Phase:
    label: str
    path: str
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    body_bytes: int = 0

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        ms = self.latencies_ms
        return (
            f"{self.label:<10} {self.rate:8.0f} req/s  ({len(ms)} in {self.seconds:.1f} s, "
            f"p50 {percentile(ms, 0.5):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
            f"{self.body_bytes} B body)  GET {self.path}"
        )


async def _get(reader, writer, request: bytes) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if b"content-length" in headers:
        return status, await reader.readexactly(int(headers[b"content-length"]))
    body = b""
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
            body += (await reader.readexactly(size + 2))[:-2]
        await reader.readuntil(b"\r\n")
    return status, body


async def drive(port: int, phase: Phase, *, connections: int, duration: float) -> Phase:
    """Keep `connections` keep-alive connections busy with GETs of the phase's path for
    `duration` seconds; record each answer's status and latency."""
    request = (
        f"GET {phase.path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "User-Agent: bench-site-pages\r\nAccept: text/html\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + duration

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while loop.time() < stop_at:
                started = time.perf_counter()
                status, body = await _get(reader, writer, request)
                phase.latencies_ms.append((time.perf_counter() - started) * 1000)
                phase.statuses[status] += 1
                phase.body_bytes = len(body)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    phase.seconds = time.perf_counter() - started
    return phase


def measure(port: int, label: str, path: str, args) -> Phase:
    asyncio.run(drive(port, Phase("warm-up", path), connections=args.connections, duration=2))
    phase = asyncio.run(
        drive(port, Phase(label, path), connections=args.connections, duration=args.duration)
    )
    if set(phase.statuses) != {200}:
        raise SystemExit(f"{label}: answers other than 200: {dict(phase.statuses)}")
    return phase


def create_posts(count: int, prefix: str) -> list:
    from django.utils import timezone

    from publishing.models import Post
    from tasks.pipeline.rendering import render_markdown

    now = timezone.now()
    posts = []
    for i in range(count):
        body = "\n\n".join(
            [f"# Garden notes {i}"]
            + [f"## Part {n}\n\n{PARAGRAPH * 3}" for n in range(1, 5)]
            + ["- one\n- two\n- three", "Read **more** in the [archive](/archive/)."]
        )
        post = Post(
            slug=f"{prefix}-{i}",
            title=f"Garden notes {i}: {TAGS[i % len(TAGS)].lower()} for small plots",
            excerpt=PARAGRAPH[:150],
            body_markdown=body,
            body_html=render_markdown(body),
            image_url="",
            tags=[TAGS[i % len(TAGS)], TAGS[(i * 7 + 3) % len(TAGS)], TAGS[(i * 3) % len(TAGS)]],
            category=CATEGORIES[i % len(CATEGORIES)],
            seo_title=f"Garden notes {i}"[:60],
            meta_description=PARAGRAPH[:160],
            published_at=now - timedelta(hours=i),
        )
        post.save()
        posts.append(post)
    return posts


def remove(prefix: str, queue: str) -> None:
    from django.conf import settings
    from django_redis import get_redis_connection

    from publishing.models import Post

    # Their history stays: the posts' history refuses deletes, in the bench database too.
    Post.objects.filter(slug__startswith=prefix).delete()
    client = get_redis_connection("default")
    keys = list(client.scan_iter(match=f"{settings.CACHES['default']['KEY_PREFIX']}:*"))
    if keys:
        client.delete(*keys)
    purge_broker(queue)


def start_server(processes: Processes, name: str, *, site_cache: str):
    """daphne as `make run` starts it, with the bench settings; waits until it answers."""
    port = free_port()
    saved = {key: os.environ.get(key) for key in ("DJANGO_SETTINGS_MODULE", "SITE_CACHE")}
    os.environ.update(DJANGO_SETTINGS_MODULE="bench.site_settings", SITE_CACHE=site_cache)
    try:
        server = processes.spawn(name, web_command("127.0.0.1", port))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    wait_for_port(port, server)
    return server, port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=300, help="published posts to create")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    args = parser.parse_args()

    queue = configure("site", env=production_env())
    from contentpipeline.cache import cache_stats

    prefix = f"{queue}-post"
    try:
        posts = create_posts(args.posts, prefix)
        path = posts[len(posts) // 2].get_absolute_url()
        with Processes(queue) as processes:
            server, port = start_server(processes, "daphne-cached", site_cache="on")
            bare = measure(port, "bare", "/bench/bare/", args)
            before = cache_stats()
            cached = measure(port, "cached", path, args)
            time.sleep(1.5)  # the server adds its hit counts up at most once a second
            after = cache_stats()
            processes.children.remove(server)
            stop(server)
            server, port = start_server(processes, "daphne-uncached", site_cache="off")
            uncached = measure(port, "uncached", path, args)
    finally:
        remove(prefix, queue)

    hits = after["hits"] - before["hits"]
    misses = after["misses"] - before["misses"]
    print(
        f"site pages: {args.posts} published posts; one daphne process (web_command, DEBUG "
        f"off), {args.connections} keep-alive connections, {args.duration:.0f} s per phase "
        f"after a 2 s warm-up; client: asyncio, one process; {os.cpu_count()} CPUs"
    )
    for phase in (cached, uncached, bare):
        print("  " + phase.line())
    print(f"  page cache during (a) and its warm-up: {hits} hits, {misses} misses")
    print(
        f"  cached / bare     = {cached.rate / bare.rate:.2f}  (target >= 0.80)\n"
        f"  cached / uncached = {cached.rate / uncached.rate:.2f}  (target >= 3.00)"
    )


if __name__ == "__main__":
    main()
