"""The offline SEO stage: title, meta description, tags and excerpt within the published limits."""

import random
import re
from typing import Any

from tasks.pipeline.text import paragraphs

from .voice import Voice, clip, join, title_case


def seo(voice: Voice, rng: random.Random, draft: Any) -> dict[str, Any]:
    """Search metadata for the draft: a title with the primary keyword where it fits in 60
    characters, a meta description of at most 160, keyword tags and a short excerpt."""
    draft = draft if isinstance(draft, dict) else {}
    markdown = str(draft.get("markdown") or "")
    title = str(draft.get("title") or "")
    if not title and markdown.startswith("# "):
        title = markdown.splitlines()[0][2:].strip()
    pk_words = set(re.findall(r"\w+", voice.pk.lower()))

    def has_keyword(text: str) -> bool:
        return pk_words <= set(re.findall(r"\w+", text.lower()))

    candidates = [title, voice.title_topic]
    if not has_keyword(voice.topic):
        # "Why Do Starters Fail? Sourdough Basics": a question ends in its own mark.
        joiner = " " if voice.title_topic.endswith("?") else ": "
        candidates.insert(1, f"{voice.title_topic}{joiner}{title_case(voice.pk)}")
    fitting = [c for c in candidates if c and len(c) <= 60]
    with_keyword = [c for c in fitting if has_keyword(c)]
    seo_title = (with_keyword or fitting or [clip(candidates[-1], 60)])[0]

    extras = [t for t in voice.terms if t.lower() != voice.pk.lower()][:2]
    covering = f", covering {join(extras)}" if extras else ""
    metas = (
        f"Learn how {voice.pk} shapes {voice.topic}: practical guidance for {voice.aud}{covering}.",
        f"A {voice.tone} look at {voice.topic} for {voice.aud}, with clear advice on "
        f"{voice.pk}{covering}.",
        f"Everything {voice.aud} need to know about {voice.topic} and {voice.pk}.",
    )
    fitting_meta = [m for m in metas if len(m) <= 160]
    meta = rng.choice(fitting_meta) if fitting_meta else clip(metas[0], 160)

    tags: list[str] = []
    sources = [voice.pk, *voice.terms, voice.brief.category]
    if len(voice.topic.split()) <= 4:
        sources.append(voice.topic)
    for source in sources:
        tag = " ".join(re.sub(r"[^\w\s-]", " ", source.lower()).split())[:50]
        if tag and tag not in tags:
            tags.append(tag)

    prose = paragraphs(markdown)
    excerpt_source = prose[0] if prose else f"{voice.title_topic}. {meta}"
    excerpt = excerpt_source if len(excerpt_source) <= 300 else ""
    if not excerpt:
        for sentence in re.split(r"(?<=[.!?])\s+", excerpt_source):
            if len(f"{excerpt} {sentence}".strip()) > 300:
                break
            excerpt = f"{excerpt} {sentence}".strip()
        excerpt = excerpt or clip(excerpt_source, 300)
    return {
        "seo_title": seo_title,
        "meta_description": meta,
        "tags": tags[:10],
        "excerpt": excerpt,
    }
