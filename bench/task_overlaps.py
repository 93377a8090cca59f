"""What looking for overlaps costs task creation: `POST /api/tasks` through Django's test
Client (in process: routing, middleware, DRF, the queries, serialization; no socket),
first with no published post, then with N published posts (1,000 by default) on a few
dozen subjects, for topics that overlap posts and topics that overlap nothing. Every
request creates a task, so the open tasks the search also reads grow as it runs.

    make bench BENCH=bench/task_overlaps.py
    .venv/bin/python bench/task_overlaps.py [-n 1000] [--requests 100]

It runs in a database of its own (<name>_overlaps), made afresh each run.
"""

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from _common import configure, percentile, production_env, purge_broker

SEED = 20261205
SUBJECTS = (
    "composting at home", "soil health", "beekeeping in winter", "sourdough starters",
    "pruning apple trees", "rainwater harvesting", "raised garden beds", "urban foraging",
    "cold frames", "seed saving", "mulching paths", "worm farms", "hedgerow planting",
    "pond wildlife", "heritage tomatoes", "cider pressing", "dry stone walls",
    "woodland coppicing", "greenhouse heating", "companion planting",
)  # fmt: skip
FORMS = ("A beginner's guide to {}", "{}: what works", "Ten lessons on {}", "Why {} matters")


def load_posts(n: int) -> None:
    from publishing.models import Post

    rng = random.Random(SEED)
    now = datetime.now(UTC)
    posts = []
    for i in range(n):
        subject = rng.choice(SUBJECTS)
        title = rng.choice(FORMS).format(subject).capitalize() + f" ({i})"
        posts.append(
            Post(
                slug=f"post-{i}", title=title[:200], excerpt=f"Notes on {subject}.",
                body_markdown=" ".join(rng.choice(SUBJECTS) for _ in range(80)),
                body_html="<p>...</p>", tags=[subject.split()[0]],
                published_at=now - timedelta(minutes=i),
            )
        )  # fmt: skip
    Post.objects.bulk_create(posts, batch_size=500)


def measure(client, token: str, requests: int, topics: list[str]) -> tuple[list[float], int]:
    times, found = [], 0
    for i in range(requests):
        body = {"topic": topics[i % len(topics)], "primary_keyword": "", "generate_image": False}
        started = time.perf_counter()
        response = client.post(
            "/api/tasks", body, content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {token}",
        )  # fmt: skip
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 201, response.content
        found += len(response.json()["overlaps"])
    return times, found


def search_alone(user, topics: list[str], requests: int) -> tuple[list[float], int]:
    """The overlap search by itself (tasks.overlaps.overlaps_for_new_task): what it adds."""
    from tasks.overlaps import overlaps_for_new_task

    times, found = [], 0
    for i in range(requests):
        started = time.perf_counter()
        found += len(overlaps_for_new_task(user=user, topic=topics[i % len(topics)]))
        times.append((time.perf_counter() - started) * 1000)
    return times, found


def line(label: str, times: list[float], found: int) -> str:
    return (
        f"{label}: {len(times)} requests, p50 {percentile(times, 0.5):.1f} ms, "
        f"p95 {percentile(times, 0.95):.1f} ms, mean {statistics.fmean(times):.1f} ms, "
        f"overlaps listed {found}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="published posts")
    parser.add_argument("--requests", type=int, default=100, help="requests per phase")
    args = parser.parse_args()
    queue = configure(
        "overlaps",
        database_suffix="overlaps",
        fresh=True,
        env={
            **production_env(),
            "THROTTLE_RATES": "anon=100000000/min,user=100000000/min,task_create=100000000/min",
            "ALLOWED_HOSTS": "testserver,localhost",
        },
    )
    from django.contrib.auth import get_user_model
    from django.test import Client
    from rest_framework.authtoken.models import Token

    user = get_user_model().objects.create_user("bench-integrator", password="x" * 20)
    token = Token.objects.create(user=user).key
    client = Client()
    overlapping = [form.format(subject) for subject in SUBJECTS for form in FORMS[:2]]
    rng = random.Random(SEED + 1)
    # Topics of made-up words: they overlap nothing, not even each other.
    elsewhere = [
        " ".join("".join(rng.choices("bcdfghklmnprstvz", k=3)) + "ion" for _ in range(4))
        for _ in range(400)
    ]
    measure(client, token, 10, elsewhere[-10:])  # warm up: connections, caches, imports
    try:
        print(line("no posts, no overlap", *measure(client, token, args.requests, elsewhere)))
        print(line("no posts, subjects", *measure(client, token, args.requests, overlapping)))
        load_posts(args.n)
        print(f"-- loaded {args.n} published posts")
        print(
            line(
                f"{args.n} posts, no overlap",
                *measure(client, token, args.requests, elsewhere[args.requests :]),
            )
        )  # noqa: E501
        print(
            line(f"{args.n} posts, subjects", *measure(client, token, args.requests, overlapping))
        )  # noqa: E501
        print(
            line(
                "the overlap search alone, subjects",
                *search_alone(user, overlapping, args.requests),
            )
        )  # noqa: E501
    finally:
        purge_broker(queue)


if __name__ == "__main__":
    main()
