"""Text and image providers behind one small interface, chosen by name in settings."""

from .base import (
    Brief,
    Completion,
    CostLimitExceeded,
    ImageProvider,
    ImageResult,
    LLMProvider,
    MalformedAnswer,
    ProviderError,
)
from .offline import OfflineImageProvider, OfflineLLMProvider
from .openai import OpenAIImageProvider, OpenAILLMProvider

REGISTRY: dict[str, dict[str, type]] = {
    "llm": {"offline": OfflineLLMProvider, "openai": OpenAILLMProvider},
    "image": {"offline": OfflineImageProvider, "openai": OpenAIImageProvider},
}
VALID_PROVIDERS: dict[str, tuple[str, ...]] = {
    kind: tuple(providers) for kind, providers in REGISTRY.items()
}


def get_provider(name: str, kind: str = "llm") -> LLMProvider | ImageProvider:
    """A fresh provider instance; OpenAI ones read LLM_BASE_URL and LLM_API_KEY from settings."""
    if kind not in REGISTRY:
        raise ValueError(f"Unknown provider kind {kind!r}; valid kinds: {', '.join(REGISTRY)}")
    providers = REGISTRY[kind]
    if name not in providers:
        raise ValueError(
            f"Unknown {kind} provider {name!r}; valid {kind} providers: {', '.join(providers)}"
        )
    return providers[name]()


def llm_chain() -> list[LLMProvider]:
    """The text providers a stage tries, in order: LLM_PROVIDER, then LLM_FALLBACKS."""
    from django.conf import settings

    return [get_provider(name, "llm") for name in settings.LLM_CHAIN]  # type: ignore[misc]


def image_chain() -> list[ImageProvider]:
    """The image providers the image stage tries: IMAGE_PROVIDER, then IMAGE_FALLBACKS."""
    from django.conf import settings

    return [get_provider(name, "image") for name in settings.IMAGE_CHAIN]  # type: ignore[misc]


__all__ = [
    "REGISTRY",
    "VALID_PROVIDERS",
    "Brief",
    "Completion",
    "CostLimitExceeded",
    "ImageProvider",
    "ImageResult",
    "LLMProvider",
    "MalformedAnswer",
    "OfflineImageProvider",
    "OfflineLLMProvider",
    "OpenAIImageProvider",
    "OpenAILLMProvider",
    "ProviderError",
    "get_provider",
    "image_chain",
    "llm_chain",
]
