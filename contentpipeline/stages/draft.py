"""Draft: the article in Markdown, its title taken from the first `# ` heading."""

from django.conf import settings

from contentpipeline.providers import llm_provider
from contentpipeline.rendering import render_markdown
from contentpipeline.text import word_count

from . import StageError, StageJob, StageOutput, describe, model_for


def split_title(markdown: str) -> tuple[str, str]:
    lines = markdown.strip().splitlines()
    for index, line in enumerate(lines):
        if line.startswith("# "):
            body = "\n".join(lines[:index] + lines[index + 1 :]).strip()
            return line[2:].strip(), body
    return "", markdown.strip()


def run(job: StageJob, context: dict) -> StageOutput:
    brief = job.brief
    research = context.get("research", {})
    outline = "\n".join(f"- {heading}" for heading in research.get("outline", []))
    prompt = (
        "Write the piece described below in Markdown. Start with a single `# ` title "
        "line, then an introduction, `## ` sections, and a conclusion.\n\n"
        + describe(brief)
        + (f"\n\nFollow this outline:\n{outline}" if outline else "")
        + (f"\n\nAngle: {research['angle']}" if research.get("angle") else "")
    )
    completion = llm_provider().generate(
        stage="draft",
        brief=brief,
        prompt=prompt,
        context=context,
        model=model_for(job),
        timeout=settings.LLM_TIMEOUT,
    )
    title, body = split_title(completion.text)
    if not body:
        raise StageError("The draft stage received an empty article")
    title = (title or brief.topic)[:200]
    # Rendered and sanitized once here; every read of the task shows this HTML.
    result = {
        "title": title,
        "markdown": body,
        "html": render_markdown(body),
        "word_count": word_count(body),
    }
    return StageOutput.from_completion(result, completion)
