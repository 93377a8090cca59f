"""Offline providers: a deterministic writer and cover painter that need no network and no key.

`writer` composes articles (research, draft, review) from the phrase banks in `data`, drawing
sentences through `voice` and reading the topic's shape with `shapes`; `seo` writes the search
metadata; `cover` draws a PNG cover. All of it is seeded from the brief, so the same brief
always yields byte-identical output and the whole pipeline runs without an API.
"""

from .cover import OfflineImageProvider, render_cover
from .data import IMAGE_MODEL, WRITER_MODEL
from .writer import OfflineLLMProvider

__all__ = [
    "IMAGE_MODEL",
    "WRITER_MODEL",
    "OfflineImageProvider",
    "OfflineLLMProvider",
    "render_cover",
]
