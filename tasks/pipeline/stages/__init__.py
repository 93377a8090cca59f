"""The pipeline's stages, one module each, run in order by the runner (tasks.runner).

A stage is a function of its job (the brief, the quality asked for, a name for what it
stores, the task's sources, what it may spend, what the apps above provided) and the
earlier stages' outputs: `run(job, context) -> StageOutput`. It is not pure: it does
its I/O through what it is handed and the pipeline's own modules. Every stage calls a
model provider (over HTTP, or the offline one) through `calls`, which also reads and
writes the cache of model answers; research fetches the task's sources over HTTP and
asks the job's RelatedPosts; draft streams its text to the job's `on_draft_text`;
image writes the cover to the media storage under the job's name. A stage knows no
model or app and writes no row: the runner records what it returns."""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings

from tasks.pipeline.interfaces import RelatedPosts, no_related_posts
from tasks.pipeline.providers import Brief, Completion, CostLimitExceeded, MalformedAnswer
from tasks.pipeline.style import StyleRules

__all__ = ["Budget", "CostLimitExceeded", "StageError", "StageJob", "StageOutput"]


@dataclass
class StageOutput:
    """A stage's result and what its model calls used, added up over all of them."""

    data: dict[str, Any] = field(default_factory=dict)
    model: str = ""
    provider: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost: Decimal = field(default_factory=lambda: Decimal("0"))
    calls: int = 0
    cache_hits: int = 0

    def add(self, completion: Completion) -> None:
        """Count one call: the last model and provider that answered are the stage's."""
        self.model, self.provider = completion.model, completion.provider
        self.tokens_in += completion.tokens_in
        self.tokens_out += completion.tokens_out
        self.cost += completion.cost
        self.calls += 1
        self.cache_hits += completion.cached

    @classmethod
    def from_completion(cls, data: dict[str, Any], completion: Completion) -> "StageOutput":
        output = cls(data=data)
        output.add(completion)
        return output


class StageError(MalformedAnswer):
    """The provider answered, but not in the form the stage needs."""


class Budget:
    """What a task may still spend on model calls: its ceiling (None: no ceiling) and
    what it has spent so far, counted up by each call of the run."""

    def __init__(self, ceiling: Decimal | None = None, spent: Decimal = Decimal("0")) -> None:
        self.ceiling, self.spent = ceiling, spent

    def __repr__(self) -> str:
        return f"Budget(ceiling={self.ceiling}, spent={self.spent})"


@dataclass(frozen=True)
class StageJob:
    """What every stage of one run works from."""

    brief: Brief
    quality: str  # fast | balanced | quality: picks the model
    # Unique per task and generation: names what a stage stores (the cover file), so a
    # re-run overwrites instead of piling up copies.
    name: str
    # URLs the research stage reads (at most 5, validated when the task was created).
    sources: tuple[str, ...] = ()
    # Whether model responses may come from (and go to) the `models` cache tier.
    use_cache: bool = True
    budget: Budget = field(default_factory=Budget)
    # Called with the draft's text so far while a streaming provider writes it.
    on_draft_text: Callable[[str], None] | None = None
    # Published posts the research stage offers the draft as internal links, as the
    # app that has posts provided them (tasks.pipeline.interfaces).
    related_posts: RelatedPosts = no_related_posts
    # The house style guide as it stood when the job was built (None: no guide): the
    # draft is written to it and the review checks it; each records its version.
    style_guide: StyleRules | None = None
    # The plan an editor approved for this generation (`review_plan`), which the draft
    # follows: its sections, {"heading", "point", "sources": [n, ...]}; empty without one.
    plan: tuple[dict[str, Any], ...] = ()
    # An editor's feedback on the plan sent back before this generation's research.
    plan_feedback: str = ""


def model_for(job: StageJob, stage: str) -> str:
    """The stage's model: LLM_STAGE_MODELS names one for the stage (the refinement
    counts as drafting; the claims' check as reviewing, unless named itself), else the
    task's quality preference picks it."""
    overrides = settings.LLM_STAGE_MODELS
    named = overrides.get("draft" if stage == "refine" else stage)
    if stage == "check":
        named = named or overrides.get("review")
    return named or settings.LLM_MODELS[job.quality]


def current_draft(context: dict[str, Any]) -> dict[str, Any]:
    """The draft as the review left it: refined when the quality loop rewrote it."""
    return context.get("review", {}).get("refined") or context.get("draft", {})


def describe(brief: Brief) -> str:
    """The brief as a prompt paragraph for a real language model."""
    lines = [
        f"Content type: {brief.task_type.replace('_', ' ')}",
        f"Topic: {brief.topic}",
        f"Tone: {brief.tone}; style: {brief.style.replace('_', ' ')}",
        f"Target length: about {brief.target_length} words",
    ]
    if brief.keywords:
        lines.append(f"Keywords (use each at least once): {', '.join(brief.keywords)}")
    if brief.primary_keyword:
        lines.append(f"Primary keyword: {brief.primary_keyword}")
    if brief.target_audience:
        lines.append(f"Audience: {brief.target_audience}")
    if brief.category:
        lines.append(f"Category: {brief.category}")
    notes = brief.notes()
    if notes:
        lines.append(
            "Editors asked for changes to earlier drafts; address every one of these notes:"
        )
        lines += [
            f"- {note}" + (f" (on generation {generation})" if generation else "")
            for generation, note in notes
        ]
    return "\n".join(lines)


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


def parse_json_object(text: str, stage: str) -> dict[str, Any]:
    """The JSON object a model answered; StageError (malformed) for anything else."""
    try:
        data = json.loads(_FENCE.sub("", text.strip()))
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise StageError(f"The {stage} stage's answer is not a JSON object: {text[:200]!r}")
    return data


def clean_str_list(value: Any, *, limit: int, max_len: int = 200) -> list[str]:
    if not isinstance(value, list):
        return []
    items = [str(item).strip()[:max_len] for item in value if str(item).strip()]
    return items[:limit]
