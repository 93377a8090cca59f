"""Offline providers: a deterministic writer and cover painter that need no network and no key.

`writer` answers every text stage: research and draft (laid out by `layout` from the phrase
banks in `phrases.toml`, sentences drawn through `voice`, the topic's shape read by `shapes`
with the word lists in `lexicon.toml`, research notes turned into further reading by `notes`),
review (`review`, scoring what `measure` measures), refine (`refine`, fixing what was measured)
and SEO (`seo`). `cover` draws a PNG cover. `tables` reads and checks the two data files. All
of it is seeded from the brief, so the same brief always yields byte-identical output and the
whole pipeline runs without an API.
"""

from .cover import IMAGE_MODEL, OfflineImageProvider, render_cover
from .writer import WRITER_MODEL, OfflineLLMProvider

__all__ = [
    "IMAGE_MODEL",
    "WRITER_MODEL",
    "OfflineImageProvider",
    "OfflineLLMProvider",
    "render_cover",
]
