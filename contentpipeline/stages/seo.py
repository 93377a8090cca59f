"""SEO: title, meta description, tags and excerpt, cut to the published limits."""

from functools import partial

from . import StageJob, StageOutput, clean_str_list, current_draft, describe, parse_json_object
from .calls import ask


def _cut(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


def run(job: StageJob, context: dict) -> StageOutput:
    brief = job.brief
    draft = current_draft(context)
    prompt = (
        "Write search metadata for this article. Answer with a JSON object with keys "
        '"seo_title" (at most 60 characters), "meta_description" (at most 160), '
        '"tags" (at most 10 lowercase tags) and "excerpt" (at most 300 characters).\n\n'
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
    output.data = {
        "seo_title": _cut(data.get("seo_title") or draft.get("title", brief.topic), 60),
        "meta_description": _cut(data.get("meta_description", ""), 160),
        "tags": list(dict.fromkeys(tags)),
        "excerpt": _cut(data.get("excerpt", ""), 300),
    }
    return output
