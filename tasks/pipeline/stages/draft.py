"""Draft: the article in Markdown, its title taken from the first `# ` heading. With a
streaming provider, the text so far goes to `job.on_draft_text` as it is written.

With a plan an editor approved (`job.plan`), the draft follows it instead of the
research's outline: the prompt asks for exactly its `## ` headings, in its order, each
section making its point from its sources; and the research the provider is handed
has the plan's headings as its `outline` and the plan itself under `plan` (with each
section's source numbers), so the offline writer lays the draft out on them too."""

from tasks.pipeline import style
from tasks.pipeline.rendering import render_markdown
from tasks.pipeline.text import word_count

from . import StageError, StageJob, StageOutput, describe
from .calls import ask
from .research import research_notes

MAX_TITLE_LENGTH = 200


def split_title(markdown: str) -> tuple[str, str]:
    lines = markdown.strip().splitlines()
    for index, line in enumerate(lines):
        if line.startswith("# "):
            body = "\n".join(lines[:index] + lines[index + 1 :]).strip()
            return line[2:].strip(), body
    return "", markdown.strip()


def article(markdown: str, *, fallback_title: str, stage: str = "draft") -> dict:
    """A model's Markdown as the draft the task keeps: title, body, and the body's HTML,
    rendered and sanitized once here (every read of the task shows this HTML). Raises
    StageError when there is no body."""
    title, body = split_title(markdown)
    if not body:
        raise StageError(f"The {stage} stage received an empty article")
    return {
        "title": (title or fallback_title)[:MAX_TITLE_LENGTH],
        "markdown": body,
        "html": render_markdown(body),
        "word_count": word_count(body),
    }


def plan_block(plan) -> str:
    """The approved plan as the prompt's instruction: its headings, points and sources."""
    lines = []
    for section in plan:
        lines.append(f"## {section['heading']}")
        if section.get("point"):
            lines.append(f"   Point: {section['point']}")
        if section.get("sources"):
            cited = ", ".join(f"[{n}]" for n in section["sources"])
            lines.append(f"   Draw on sources: {cited}")
    return (
        "An editor approved this plan. Use exactly these `## ` headings, in this order, "
        "and no other `## ` headings (the introduction goes before the first, the "
        "conclusion within the last); under each, make its point, drawing on the sources "
        "it names:\n" + "\n".join(lines)
    )


def run(job: StageJob, context: dict) -> StageOutput:
    brief = job.brief
    research = context.get("research", {})
    if job.plan:
        # The writer is handed the plan as its research's outline (and the whole plan).
        headings = [section["heading"] for section in job.plan]
        research = {**research, "outline": headings, "plan": [dict(s) for s in job.plan]}
        context = {**context, "research": research}
        outline = plan_block(job.plan)
    else:
        headings = research.get("outline", [])
        outline = "Follow this outline:\n" + "\n".join(f"- {h}" for h in headings)
    prompt = (
        "Write the piece described below in Markdown. Start with a single `# ` title "
        "line, then an introduction, `## ` sections, and a conclusion.\n\n"
        + describe(brief)
        + (f"\n\n{outline}" if headings else "")
        + (f"\n\nAngle: {research['angle']}" if research.get("angle") else "")
    )
    notes = research_notes(research)  # the sources' texts and the posts to link to
    if notes:
        prompt += f"\n\n{notes}"
    if guide := style.describe(job.style_guide):
        prompt += f"\n\n{guide}"
    output = StageOutput()
    output.data = ask(
        job,
        stage="draft",
        prompt=prompt,
        context=context,
        output=output,
        parse=lambda text: article(text, fallback_title=brief.topic),
        on_text=job.on_draft_text,
    )
    output.data["style_guide_version"] = style.version_of(job.style_guide)
    return output
