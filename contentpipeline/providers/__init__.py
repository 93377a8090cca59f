"""Text and image providers behind one small interface, chosen by name in settings."""

from .base import (
    Brief,
    Completion,
    ImageProvider,
    ImageResult,
    LLMProvider,
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


def llm_provider() -> LLMProvider:
    from django.conf import settings

    provider = get_provider(settings.LLM_PROVIDER, "llm")
    assert isinstance(provider, LLMProvider)  # noqa: S101 - narrows the type for checkers
    return provider


def image_provider() -> ImageProvider:
    from django.conf import settings

    provider = get_provider(settings.IMAGE_PROVIDER, "image")
    assert isinstance(provider, ImageProvider)  # noqa: S101 - narrows the type for checkers
    return provider


__all__ = [
    "REGISTRY",
    "VALID_PROVIDERS",
    "Brief",
    "Completion",
    "ImageProvider",
    "ImageResult",
    "LLMProvider",
    "OfflineImageProvider",
    "OfflineLLMProvider",
    "OpenAIImageProvider",
    "OpenAILLMProvider",
    "ProviderError",
    "get_provider",
    "image_provider",
    "llm_provider",
]
