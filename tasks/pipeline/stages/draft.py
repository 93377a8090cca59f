"""Draft: the article in Markdown, its title taken from the first `# ` heading. With a
streaming provider, the text so far goes to `job.on_draft_text` as it is written.

Citations: with readable sources, the prompt asks that a sentence stating a fact from
a source end with that source's number in square brackets ("[1]"), the numbers being
those of the task's source list (research's `n`), which the reference material in the
prompt is labelled with; the review stage checks each cited sentence against its
source (tasks.pipeline.claims). Without one, it asks for no citation and for nothing
presented as sourced.

With a plan an editor approved (`job.plan`), the draft follows it instead of the
research's outline: the prompt asks for exactly its `## ` headings, in its order, each
section making its point from its sources; and the research the provider is handed
has the plan's headings as its `outline` and the plan itself under `plan` (with each
section's source numbers), so the offline writer lays the draft out on them too."""

from tasks.pipeline import style
from tasks.pipeline.rendering import render_markdown
from tasks.pipeline.sources import readable_sources
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


CITE_SOURCES = (
    "Cite your sources. A sentence that states a fact taken from a source ends with "
    "that source's number in square brackets, before the full stop: \"Barrels hold 200 "
    'litres [1]." (two sources: "[1][2]"). Use the numbers of the reference material '
    "below ({numbers}) and no others; cite only a source that says what the sentence "
    "says, and keep its numbers, dates and names exactly as the source gives them. "
    "Sentences of your own (introduction, transitions, advice) cite nothing. Do not add "
    "a list of sources at the end: the post adds one."
)
NO_SOURCES = (
    "You have no sources for this piece: cite nothing (no [1]-style marks) and present "
    "nothing as coming from a study, a survey, a statistic or any other source."
)


def citation_rules(research: dict) -> str:
    """What the draft prompt says about citing: how to cite the readable sources by
    their numbers, or, with none, that nothing is cited."""
    numbers = [source["n"] for source in readable_sources(research)]
    if not numbers:
        return NO_SOURCES
    return CITE_SOURCES.format(numbers=", ".join(f"[{n}]" for n in numbers))


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
    prompt += f"\n\n{citation_rules(research)}"
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
