import factory
from django.utils import timezone

from tasks.models import ContentTask, Stage, StageRun, StageRunStatus, Status
from tasks.pipeline.claims import check_claims
from tasks.pipeline.rendering import render_markdown
from tasks.pipeline.text import word_count

from ..factories import UserFactory


class ContentTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContentTask

    topic = factory.Sequence(lambda n: f"Practical guide number {n} to sustainable gardening")
    keywords = factory.LazyFunction(lambda: ["compost", "soil health"])
    target_length = 300
    created_by = factory.SubFactory(UserFactory)


class StageRunFactory(factory.django.DjangoModelFactory):
    """One succeeded stage attempt of a task's first generation, as the runner records it."""

    class Meta:
        model = StageRun

    task = factory.SubFactory(ContentTaskFactory)
    generation = 1
    stage = Stage.RESEARCH
    status = StageRunStatus.SUCCEEDED
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyFunction(timezone.now)
    provider = "offline"
    model = "offline-writer-1"
    output = factory.LazyFunction(dict)


def drafted_with_sources(
    *, markdown: str, sources: list[dict], claims: list[dict] | None = None, **task_fields
) -> ContentTask:
    """A task awaiting approval whose stages ran as the pipeline runs them, with this
    text and these sources: research kept `sources` (numbered, readable unless they say
    otherwise), the draft is `markdown`, the review checked its claims against them
    (`check_claims`; or `claims` as given, as a model's judgement may leave them), and
    SEO wrote the metadata."""
    task = ContentTaskFactory(status=Status.AWAITING_APPROVAL, stage=Stage.DONE, progress=100,
                              **task_fields)  # fmt: skip
    sources = [{"n": n, "ok": True, "error": "", "truncated": False, **source}
               for n, source in enumerate(sources, 1)]  # fmt: skip
    if claims is None:
        claims = check_claims(markdown, sources)
    outputs = {
        Stage.RESEARCH: {"angle": "", "outline": [], "key_points": [], "sources": sources},
        Stage.DRAFT: {"title": task.topic, "markdown": markdown,
                      "html": render_markdown(markdown), "word_count": word_count(markdown)},
        Stage.REVIEW: {"quality_score": 90, "scores": {}, "qa_feedback": "Checked.",
                       "issues": [], "rounds": [], "claims": claims},
        Stage.SEO: {"seo_title": task.topic[:60], "meta_description": "What the sources say.",
                    "tags": ["sources"], "excerpt": "What the sources say.", "slug": ""},
    }  # fmt: skip
    for stage, output in outputs.items():
        StageRunFactory(task=task, stage=stage, output=output)
    return task


# The contract's example: a source says "founded in 1998", the draft "founded in 1989 [1]".
ACME_SOURCE = {
    "url": "https://example.com/acme",
    "title": "About Acme",
    "text": "Acme Robotics was founded in 1998 in Leeds. It builds warehouse robots.",
}
WRONG_YEAR = "Acme Robotics was founded in 1989 [1]. It builds warehouse robots [1]."
RIGHT_YEAR = "Acme Robotics was founded in 1998 [1]. It builds warehouse robots [1]."


def founded_in_1989(**task_fields) -> ContentTask:
    """The contract's example awaiting approval: its first claim is unsupported."""
    return drafted_with_sources(markdown=WRONG_YEAR, sources=[ACME_SOURCE], **task_fields)
