"""The pipeline's stages, one module each, run in this order by contentpipeline.pipeline."""

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings

from contentpipeline.providers import Brief, Completion, ProviderError


@dataclass
class StageOutput:
    data: dict[str, Any]
    model: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost: Decimal = field(default_factory=lambda: Decimal("0"))

    @classmethod
    def from_completion(cls, data: dict[str, Any], completion: Completion) -> "StageOutput":
        return cls(
            data=data,
            model=completion.model,
            tokens_in=completion.tokens_in,
            tokens_out=completion.tokens_out,
            cost=completion.cost,
        )


class StageError(ProviderError):
    """The provider answered, but not in the form the stage needs."""


def brief_for(task, feedback: str | None = None) -> Brief:
    return Brief(
        task_type=task.task_type,
        topic=task.topic,
        keywords=tuple(task.keywords or ()),
        primary_keyword=task.primary_keyword,
        target_audience=task.target_audience,
        category=task.category,
        tone=task.tone,
        style=task.style,
        target_length=task.target_length,
        feedback=task.feedback if feedback is None else feedback,
    )


def model_for(task) -> str:
    return settings.LLM_MODELS[task.quality_preference]


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
    if brief.feedback:
        lines.append(
            f"An editor rejected the previous draft; address this feedback: {brief.feedback}"
        )
    return "\n".join(lines)


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


def parse_json_object(text: str, stage: str) -> dict[str, Any]:
    try:
        data = json.loads(_FENCE.sub("", text.strip()))
    except json.JSONDecodeError as exc:
        raise StageError(f"The {stage} stage expected JSON from the model: {exc}") from exc
    if not isinstance(data, dict):
        raise StageError(f"The {stage} stage expected a JSON object from the model")
    return data


def clean_str_list(value: Any, *, limit: int, max_len: int = 200) -> list[str]:
    if not isinstance(value, list):
        return []
    items = [str(item).strip()[:max_len] for item in value if str(item).strip()]
    return items[:limit]
