"""Review: the critique of the draft, seven scores and an overall one, and the quality
loop: a draft scored below QUALITY_THRESHOLD is rewritten with its critique ("refine")
and reviewed again, at most QUALITY_MAX_REFINEMENTS times. Every round is kept
(`rounds`: scores before and after); the last rewrite is `refined`, the draft the later
stages and the editor see."""

from typing import Any

from django.conf import settings

from tasks.pipeline import feedback, style

from . import StageJob, StageOutput, clean_str_list, describe, parse_json_object
from .calls import ask
from .draft import article

DIMENSIONS = (
    "clarity", "accuracy", "completeness", "relevance", "seo", "readability", "engagement",
)  # fmt: skip


def _score(value: Any) -> int | None:
    try:
        return max(0, min(100, int(value)))
    except (TypeError, ValueError):
        return None


def critique(text: str) -> dict[str, Any]:
    """A model's review as the stage keeps it: scores bounded to 0..100, the overall
    one the model's or, missing, the mean of the seven it gave."""
    data = parse_json_object(text, "review")
    raw = data.get("scores") if isinstance(data.get("scores"), dict) else {}
    scores = {name: _score(raw.get(name)) for name in DIMENSIONS}
    given = [score for score in scores.values() if score is not None]
    overall = _score(data.get("quality_score"))
    if overall is None:
        overall = round(sum(given) / len(given)) if given else 0
    return {
        "quality_score": overall,
        "scores": scores,
        "qa_feedback": str(data.get("qa_feedback", ""))[:2000],
        "issues": clean_str_list(data.get("issues"), limit=20, max_len=500),
        # Read with the job's notes and rules by `_checks`, not kept as they are.
        "verdicts": {"feedback": feedback.answers(data), "style": data.get("style")},
    }


def _checks(job: StageJob, draft: dict, verdicts: dict, provider: str) -> dict[str, Any]:
    """The feedback checklist and the style report on the reviewed draft, with the
    model's verdicts where it gave them."""
    text = f"# {draft.get('title', '')}\n\n{draft.get('markdown', '')}"
    unjudged = "not judged: no model" if provider == "offline" else "not judged: no verdict"
    return {
        "feedback_checklist": feedback.checklist(job.brief.notes(), text, verdicts["feedback"]),
        "style": style.report(text, job.style_guide, verdicts, unjudged=unjudged),
        "style_guide_version": style.version_of(job.style_guide),
    }


def _review_prompt(job: StageJob, draft: dict) -> str:
    return (
        "Review this draft against its brief. Answer with a JSON object with keys "
        '"scores" (clarity, accuracy, completeness, relevance, seo, readability, '
        'engagement: each an integer 0-100), "quality_score" (integer 0-100), '
        '"qa_feedback" (string) and "issues" (list).\n\n'
        + describe(job.brief)
        + "".join(
            f"\n\n{extra}"
            for extra in (feedback.prompt(job.brief.notes()), style.prompt(job.style_guide))
            if extra
        )
        + f"\n\nDraft title: {draft.get('title', '')}\n\n{draft.get('markdown', '')}"
    )


def _refine_prompt(job: StageJob, draft: dict, review: dict) -> str:
    issues = "\n".join(f"- {issue}" for issue in review["issues"]) or "- (none listed)"
    return (
        "Revise this draft so that it fixes the editor's critique. Answer with the whole "
        "revised piece in Markdown, starting with a single `# ` title line.\n\n"
        + describe(job.brief)
        + (f"\n\n{guide}" if (guide := style.describe(job.style_guide)) else "")
        + f"\n\nCritique (overall score {review['quality_score']}/100): "
        + f"{review['qa_feedback']}\nIssues:\n{issues}"
        + _kept_headings(job)
        + f"\n\nDraft title: {draft.get('title', '')}\n\n{draft.get('markdown', '')}"
    )


def _kept_headings(job: StageJob) -> str:
    # The editor approved the plan's headings: a rewrite for quality keeps them.
    if not job.plan:
        return ""
    headings = "\n".join(f"## {section['heading']}" for section in job.plan)
    return (
        "\n\nAn editor approved the plan this piece follows: keep exactly these `## ` "
        f"headings, in this order, and no others:\n{headings}"
    )


def run(job: StageJob, context: dict) -> StageOutput:
    output = StageOutput()
    draft = context.get("draft", {})
    rounds: list[dict[str, Any]] = []
    refined = None
    while True:
        review = ask(
            job,
            stage="review",
            prompt=_review_prompt(job, draft),
            context={**context, "draft": draft},
            output=output,
            parse=critique,
        )
        review.update(_checks(job, draft, review.pop("verdicts"), output.provider))
        rounds.append({"round": len(rounds) + 1, "word_count": draft.get("word_count"), **review})
        refinements = len(rounds) - 1
        if (
            review["quality_score"] >= settings.QUALITY_THRESHOLD
            or refinements >= settings.QUALITY_MAX_REFINEMENTS
        ):
            break
        draft = refined = ask(
            job,
            stage="refine",
            prompt=_refine_prompt(job, draft, review),
            context={**context, "draft": draft, "critique": review},
            output=output,
            parse=lambda text: article(text, fallback_title=job.brief.topic, stage="refine"),
        )
    output.data = {**rounds[-1], "rounds": rounds}
    if refined is not None:
        output.data["refined"] = refined
    return output
