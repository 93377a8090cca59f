"""The provider contract: what the pipeline stages hand to a provider and what they get back."""

import hashlib
import json
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

LLM_STAGES = ("research", "draft", "review", "seo")


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

    def __post_init__(self) -> None:
        # Callers build briefs from JSON fields, which arrive as lists; a tuple keeps the brief
        # hashable and its seed independent of the container type.
        cleaned = tuple(str(keyword).strip() for keyword in self.keywords if str(keyword).strip())
        object.__setattr__(self, "keywords", cleaned)

    def seed(self) -> int:
        """A stable seed: unlike hash(), identical across processes and Python versions."""
        payload = json.dumps(asdict(self), sort_keys=True, ensure_ascii=True)
        return int.from_bytes(hashlib.sha256(payload.encode()).digest()[:8], "big")


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    tokens_in: int
    tokens_out: int
    cost: Decimal  # USD


@dataclass(frozen=True)
class ImageResult:
    content: bytes
    content_type: str  # e.g. "image/png"
    model: str
    cost: Decimal  # USD


class ProviderError(Exception):
    """A provider call failed (network, HTTP status, bad response). Message is human readable."""


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


@runtime_checkable
class ImageProvider(Protocol):
    name: str

    def generate_image(
        self, *, brief: Brief, prompt: str, model: str, timeout: float
    ) -> ImageResult: ...
