"""SEO: title, meta description, tags, excerpt and slug, cut to the published limits."""

from functools import partial

from django.utils.text import slugify

from . import StageJob, StageOutput, clean_str_list, current_draft, describe, parse_json_object
from .calls import ask


def _cut(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


MAX_SLUG_LENGTH = 60


def clean_slug(*candidates: str) -> str:
    """The first candidate that makes a slug: ASCII words joined by hyphens, cut at a
    hyphen to MAX_SLUG_LENGTH ("" when none does)."""
    for candidate in candidates:
        slug = slugify(str(candidate or ""))
        if len(slug) > MAX_SLUG_LENGTH:
            slug = slug[: MAX_SLUG_LENGTH + 1].rsplit("-", 1)[0]
        slug = slug.strip("-")[:MAX_SLUG_LENGTH]
        if slug:
            return slug
    return ""


def run(job: StageJob, context: dict) -> StageOutput:
    brief = job.brief
    draft = current_draft(context)
    prompt = (
        "Write search metadata for this article. Answer with a JSON object with keys "
        '"seo_title" (at most 60 characters), "meta_description" (at most 160), '
        '"tags" (at most 10 lowercase tags), "excerpt" (at most 300 characters) and '
        '"slug" (the URL path: a few lowercase words joined by hyphens).\n\n'
        + describe(brief)
        + f"\n\nTitle: {draft.get('title', '')}\n\n{draft.get('markdown', '')[:4000]}"
    )
    output = StageOutput()
    data = ask(
        job,
        stage="seo",
        prompt=prompt,
        context=context,
        output=output,
        parse=partial(parse_json_object, stage="seo"),
    )
    tags = [tag.lower()[:50] for tag in clean_str_list(data.get("tags"), limit=10)]
    seo_title = _cut(data.get("seo_title") or draft.get("title", brief.topic), 60)
    output.data = {
        "seo_title": seo_title,
        "meta_description": _cut(data.get("meta_description", ""), 160),
        "tags": list(dict.fromkeys(tags)),
        "excerpt": _cut(data.get("excerpt", ""), 300),
        "slug": clean_slug(data.get("slug"), seo_title, draft.get("title", ""), brief.topic),
    }
    return output
