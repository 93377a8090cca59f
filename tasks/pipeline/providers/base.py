"""The provider contract: what the pipeline stages hand to a provider and what they get back."""

import hashlib
import json
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

# What a text provider is asked to write: each stage's answer, "refine", the review's
# rewrite of a draft with its critique, and "check", the review's judgement of the
# draft's cited claims against their sources.
LLM_STAGES = ("research", "draft", "review", "refine", "check", "seo")


@dataclass(frozen=True)
class Brief:
    task_type: str  # blog_post | social_post | newsletter
    topic: str
    keywords: tuple[str, ...] = ()
    primary_keyword: str = ""
    target_audience: str = ""
    category: str = ""
    tone: str = "professional"  # professional | casual | academic | inspirational
    # technical | narrative | listicle | educational | thought_leadership
    style: str = "educational"
    target_length: int = 800  # words
    feedback: str = ""  # editor feedback on a rejected earlier draft, to be addressed
    # Every editor's note on an earlier draft, oldest first, as (generation, note): the
    # feedback ledger, each of which the draft addresses (`feedback` is the last one).
    feedback_notes: tuple[tuple[int, str], ...] = ()

    def __post_init__(self) -> None:
        # Callers build briefs from JSON fields, which arrive as lists; a tuple keeps the brief
        # hashable and its seed independent of the container type.
        cleaned = tuple(str(keyword).strip() for keyword in self.keywords if str(keyword).strip())
        object.__setattr__(self, "keywords", cleaned)
        notes = tuple(
            (int(generation), str(note).strip())
            for generation, note in self.feedback_notes
            if str(note).strip()
        )
        object.__setattr__(self, "feedback_notes", notes)

    def notes(self) -> list[tuple[int, str]]:
        """The feedback the draft answers: the ledger's notes, or the single `feedback`
        of a caller that has no ledger (generation 0: not known)."""
        if self.feedback_notes:
            return list(self.feedback_notes)
        return [(0, self.feedback.strip())] if self.feedback.strip() else []

    def seed(self) -> int:
        """A stable seed: unlike hash(), identical across processes and Python versions."""
        fields = asdict(self)
        if not fields["feedback_notes"]:
            # A brief without a ledger seeds as it did before there was one.
            del fields["feedback_notes"]
        payload = json.dumps(fields, sort_keys=True, ensure_ascii=True)
        return int.from_bytes(hashlib.sha256(payload.encode()).digest()[:8], "big")


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    tokens_in: int
    tokens_out: int
    cost: Decimal  # USD
    provider: str = ""  # which provider of the chain wrote it
    cached: bool = False  # answered from the `models` cache tier (nothing paid)


@dataclass(frozen=True)
class ImageResult:
    content: bytes
    content_type: str  # e.g. "image/png"
    model: str
    cost: Decimal  # USD


class ProviderError(Exception):
    """A provider call failed (network, HTTP status, bad response). Message is human readable."""


class MalformedAnswer(ProviderError):
    """The provider answered, but not in the form the stage needs (asked once more)."""


class CostLimitExceeded(Exception):
    """A call would take the task past its cost ceiling: the task fails instead of
    spending more (no retry, no fallback: every provider would cost the same budget)."""


@runtime_checkable
class LLMProvider(Protocol):
    name: str

    def generate(
        self,
        *,
        stage: str,
        brief: Brief,
        prompt: str,
        context: dict[str, Any],
        model: str,
        timeout: float,
    ) -> Completion: ...

    # Optional, looked up with getattr: `streams = True` when generate() takes an
    # `on_text` callback (called with the text so far); `priced = True` when calls cost
    # money (checked against the task's ceiling first), and then `cache_key(stage=,
    # prompt=, model=)` -> str, so the same request is not paid for twice.


@runtime_checkable
class ImageProvider(Protocol):
    name: str

    def generate_image(
        self, *, brief: Brief, prompt: str, model: str, timeout: float
    ) -> ImageResult: ...
