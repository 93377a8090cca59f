"""Time from task creation to `awaiting_approval` through the offline pipeline, with a
real Celery worker process, broker and database.

    make bench                          # embedded or configured services
    python bench/pipeline_latency.py -n 20 --length 800

Uses its own database (<name>_bench), created and migrated on first use.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contentpipeline.settings")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("SECRET_KEY", "bench-only-" + uuid.uuid4().hex)
BIN = Path(sys.executable).parent


def bench_database() -> str:
    import environ
    import psycopg

    config = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    name = f"{config['NAME']}_bench"
    from urllib.parse import unquote

    conninfo = {
        "host": unquote(config["HOST"]),
        "port": config["PORT"] or 5432,
        "user": config["USER"],
        "password": config["PASSWORD"] or None,
        "dbname": "postgres",
    }
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return name


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="tasks to run")
    parser.add_argument("--length", type=int, default=800, help="target length in words")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    args = parser.parse_args()

    os.environ["DATABASE_NAME"] = bench_database()
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    os.environ["CELERY_QUEUE"] = queue
    os.environ.setdefault("MEDIA_ROOT", str(ROOT / ".data" / "bench-media"))
    subprocess.run([str(BIN / "python"), "manage.py", "migrate", "-v", "0"], cwd=ROOT, check=True)

    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from tasks.models import ContentTask, Status
    from tasks.services import task_create

    worker = subprocess.Popen(
        [str(BIN / "celery"), "-A", "contentpipeline", "worker", "-Q", queue, "-c",
         str(args.concurrency), "-l", "WARNING", "--without-gossip", "--without-mingle"],
        cwd=ROOT,
    )  # fmt: skip
    try:
        from contentpipeline.celery import app

        while not app.control.ping(timeout=0.5):
            time.sleep(0.2)
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
        while ContentTask.objects.filter(pk__in=ids, status=Status.AWAITING_APPROVAL).count() < len(
            ids
        ):
            if ContentTask.objects.filter(pk__in=ids, status=Status.FAILED).exists():
                raise SystemExit("a task failed")
            time.sleep(0.05)
        wall = time.monotonic() - started
        tasks = ContentTask.objects.filter(pk__in=ids)
        latency = [(t.completed_at - t.created_at).total_seconds() for t in tasks]
        run_time = [(t.completed_at - t.started_at).total_seconds() for t in tasks]
    finally:
        worker.terminate()
        worker.wait(30)

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
