"""`manage.py pipeline_check`: call each configured provider once, for an operator
setting up a model server: latency, the model that answered, tokens, cost and a
sample, one line per provider of the chains (LLM_PROVIDER and LLM_FALLBACKS, then
IMAGE_PROVIDER and IMAGE_FALLBACKS). The cache is not asked: every call is real.
Exits with an error when a provider fails."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tasks.pipeline.outbound import display_url
from tasks.pipeline.providers import Brief, ProviderError, get_provider

BRIEF = Brief(
    task_type="blog_post",
    topic="Rainwater harvesting for a small garden",
    keywords=("rain barrel",),
    target_length=100,
)
PROMPT = (
    "Write the piece described below in Markdown, in about 60 words. Start with a "
    "single `# ` title line.\n\nTopic: Rainwater harvesting for a small garden"
)
SAMPLE_CHARS = 120


class Command(BaseCommand):
    help = "Call each configured text and image provider once and report how it answered."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--no-images", action="store_true", help="skip the image providers (they cost more)"
        )

    def handle(self, *args, no_images: bool = False, **options) -> None:
        failures = [name for name in settings.LLM_CHAIN if not self.check_llm(name)]
        if not no_images:
            failures += [name for name in settings.IMAGE_CHAIN if not self.check_image(name)]
        if failures:
            raise CommandError(f"{len(failures)} provider call(s) failed: {', '.join(failures)}")

    def check_llm(self, name: str) -> bool:
        provider = get_provider(name, "llm")
        model = settings.LLM_MODELS["balanced"]
        where = f" at {display_url(provider.base_url)}" if hasattr(provider, "base_url") else ""
        started = time.monotonic()
        try:
            answer = provider.generate(
                stage="draft", brief=BRIEF, prompt=PROMPT, context={}, model=model,
                timeout=settings.LLM_TIMEOUT,
            )  # fmt: skip
        except ProviderError as exc:
            return self.failed(f"llm {name}{where} (model {model})", started, exc)
        sample = " ".join(answer.text.split())[:SAMPLE_CHARS]
        self.stdout.write(
            f"llm {name}{where}: ok in {time.monotonic() - started:.2f}s, model {answer.model}, "
            f"{answer.tokens_in}+{answer.tokens_out} tokens, ${answer.cost:.6f}; sample: {sample!r}"
        )
        return True

    def check_image(self, name: str) -> bool:
        provider = get_provider(name, "image")
        model = settings.IMAGE_MODEL
        where = f" at {display_url(provider.base_url)}" if hasattr(provider, "base_url") else ""
        started = time.monotonic()
        try:
            image = provider.generate_image(
                brief=BRIEF, prompt="A rain barrel beside a vegetable bed, no text.",
                model=model, timeout=settings.LLM_TIMEOUT,
            )  # fmt: skip
        except ProviderError as exc:
            return self.failed(f"image {name}{where} (model {model})", started, exc)
        self.stdout.write(
            f"image {name}{where}: ok in {time.monotonic() - started:.2f}s, model {image.model}, "
            f"{image.content_type}, {len(image.content)} bytes, ${image.cost:.4f}"
        )
        return True

    def failed(self, label: str, started: float, exc: Exception) -> bool:
        self.stderr.write(f"{label}: FAILED after {time.monotonic() - started:.2f}s: {exc}")
        return False
