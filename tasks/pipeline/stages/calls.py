"""A stage's calls to models: the providers' fallback chain, the response cache (the
`models` tier) and the task's cost ceiling, in one place every stage goes through.

- Chain: LLM_PROVIDER, then LLM_FALLBACKS (IMAGE_... for covers). A provider that fails
  after its own retries, or answers malformed twice, hands over to the next; the stage
  output names the one that wrote it.
- Cache: a priced provider's answer is kept a day under a hash of everything it depends
  on (server, model, messages, parameters), so a retried or resumed stage does not pay
  twice; a task with `use_cache` false neither reads nor fills it. Only answers the
  stage could use are kept.
- Ceiling: before a priced call, its cost is estimated (prompt length, the answer's
  expected length, the model's price); when what the task has spent plus that would
  cross its ceiling, CostLimitExceeded stops the task before the money is spent.
"""

import logging
from collections.abc import Callable
from dataclasses import asdict, replace
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings

from contentpipeline.cache import tier_get_or_set
from tasks.pipeline.providers import (
    Completion,
    CostLimitExceeded,
    ImageResult,
    MalformedAnswer,
    ProviderError,
    image_chain,
    llm_chain,
)
from tasks.pipeline.providers.prices import image_cost, llm_cost

from . import StageJob, StageOutput, model_for

logger = logging.getLogger(__name__)

T = TypeVar("T")
# A malformed answer is asked for once more before the provider counts as failed.
MALFORMED_RETRIES = 1
# The cached answers' format (a Completion's fields): bump it when they change.
CACHE_FORMAT = "completion-1"
# Rough tokens per character of English prompt text, for the estimate before a call.
CHARS_PER_TOKEN = 4


def ask(
    job: StageJob,
    *,
    stage: str,
    prompt: str,
    context: dict[str, Any],
    output: StageOutput,
    parse: Callable[[str], T],
    on_text: Callable[[str], None] | None = None,
) -> T:
    """The parsed answer of the first provider of the chain that gives a usable one;
    every call (cached or not) is counted in `output`. Raises CostLimitExceeded, or
    ProviderError naming each provider's failure when none answered."""
    model = model_for(job, stage)
    failures: list[str] = []
    for provider in llm_chain():
        try:
            completion = _answer(
                provider, job, stage, prompt, context, model, output, parse, on_text
            )
        except ProviderError as exc:
            failures.append(f"{provider.name}: {exc}")
            logger.warning("Provider %s failed the %s stage: %s", provider.name, stage, exc)
            continue
        if on_text is not None and getattr(provider, "streams", False):
            # The whole text, whether it streamed, came at once or from the cache (a
            # provider that never streams sends no draft events at all).
            on_text(completion.text)
        return parse(completion.text)
    raise ProviderError(" / ".join(failures))


def _answer(provider, job, stage, prompt, context, model, output, parse, on_text) -> Completion:
    streams = on_text is not None and getattr(provider, "streams", False)

    def call() -> Completion:
        error: MalformedAnswer | None = None
        for _ in range(1 + MALFORMED_RETRIES):
            if getattr(provider, "priced", False):
                _check_budget(job, stage, llm_cost(model, *_expected_tokens(job, stage, prompt)))
            extra = {"on_text": on_text} if streams else {}
            try:
                completion = provider.generate(
                    stage=stage,
                    brief=job.brief,
                    prompt=prompt,
                    context=context,
                    model=model,
                    timeout=settings.LLM_TIMEOUT,
                    **extra,
                )
            except MalformedAnswer as exc:  # said so by the provider itself
                error = exc
                continue
            completion = replace(completion, provider=provider.name)
            _charge(job, output, completion)
            try:
                parse(completion.text)
            except MalformedAnswer as exc:
                error = exc
                continue
            return completion
        raise MalformedAnswer(f"answered malformed {1 + MALFORMED_RETRIES} times: {error}")

    cache_key = getattr(provider, "cache_key", None)
    if not (job.use_cache and getattr(provider, "priced", False) and cache_key):
        return call()
    fresh: list[Completion] = []

    def compute() -> dict[str, Any]:
        fresh.append(call())
        return asdict(fresh[0])

    key = f"{CACHE_FORMAT}:{cache_key(stage=stage, prompt=prompt, model=model)}"
    found = tier_get_or_set("models", key, compute, versioned=False)
    if fresh:
        return fresh[0]
    # Nothing paid this time: the call is counted, as a cache hit.
    completion = replace(
        Completion(**found), tokens_in=0, tokens_out=0, cost=Decimal("0"), cached=True
    )
    output.add(completion)
    return completion


def draw(job: StageJob, *, prompt: str, output: StageOutput) -> ImageResult:
    """The cover from the first image provider of the chain that makes one."""
    failures: list[str] = []
    for provider in image_chain():
        if getattr(provider, "priced", False):
            _check_budget(job, "image", image_cost(settings.IMAGE_MODEL))
        try:
            image = provider.generate_image(
                brief=job.brief,
                prompt=prompt,
                model=settings.IMAGE_MODEL,
                timeout=settings.LLM_TIMEOUT,
            )
        except ProviderError as exc:
            failures.append(f"{provider.name}: {exc}")
            logger.warning("Image provider %s failed: %s", provider.name, exc)
            continue
        job.budget.spent += image.cost
        output.add(
            Completion(
                text="",
                model=image.model,
                tokens_in=0,
                tokens_out=0,
                cost=image.cost,
                provider=provider.name,
            )
        )
        return image
    raise ProviderError(" / ".join(failures))


def _expected_tokens(job: StageJob, stage: str, prompt: str) -> tuple[int, int]:
    """(input, output) tokens a call is expected to use: a piece of writing runs to
    about twice its target length in tokens at most, other answers to a few hundred."""
    tokens_out = job.brief.target_length * 2 if stage in ("draft", "refine") else 500
    return len(prompt) // CHARS_PER_TOKEN + 300, tokens_out


def _check_budget(job: StageJob, stage: str, estimate: Decimal) -> None:
    budget = job.budget
    if budget.ceiling is not None and budget.spent + estimate > budget.ceiling:
        raise CostLimitExceeded(
            f"The {stage} stage's next model call (about ${estimate:.4f}) would take the "
            f"task past its cost ceiling of ${budget.ceiling} (spent so far: "
            f"${budget.spent:.4f})"
        )


def _charge(job: StageJob, output: StageOutput, completion: Completion) -> None:
    job.budget.spent += completion.cost
    output.add(completion)
