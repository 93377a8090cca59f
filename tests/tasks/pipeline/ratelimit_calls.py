"""Model calls from a process of its own, for the tests of the shared rate limit:

    python -m tests.tasks.pipeline.ratelimit_calls BASE_URL CALLS THREADS

It sets Django up (from the environment, as a worker does), prints `ready`, waits for a
line on standard input (so two processes start calling together), makes CALLS calls
through the openai provider over THREADS threads and prints one JSON line:
`{"failures": [...], "elapsed": seconds}`."""

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

PROMPT = "Write the piece."


def calls(base_url: str, count: int, threads: int) -> tuple[float, list[str]]:
    """Make `count` draft calls over `threads` threads: (seconds taken, the errors)."""
    from tasks.pipeline.providers import Brief, OpenAILLMProvider, ProviderError

    provider = OpenAILLMProvider(base_url=base_url, api_key="test-key")
    brief = Brief(task_type="blog_post", topic="Rain barrels")

    def one(_: int) -> str | None:
        try:
            provider.generate(
                stage="draft", brief=brief, prompt=PROMPT, context={}, model="gpt-4o-mini",
                timeout=10.0,
            )  # fmt: skip
        except ProviderError as exc:
            return str(exc)
        return None

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        errors = [error for error in pool.map(one, range(count)) if error]
    return time.monotonic() - started, errors


def main() -> None:
    base_url, count, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contentpipeline.settings")
    import django

    django.setup()
    print("ready", flush=True)
    sys.stdin.readline()
    elapsed, failures = calls(base_url, count, threads)
    print(json.dumps({"failures": failures, "elapsed": elapsed}), flush=True)


if __name__ == "__main__":
    main()
