"""Editors' edits of a draft before they decide, each a version of the draft (who,
when), its checks run again on the text saved; and a post's approved text changed
before it went live, which re-opens approval."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from contentpipeline.errors import ApplicationError, InvalidTransition
from contentpipeline.roles import system_user
from tasks.pipeline import style
from tasks.pipeline.claims import UNSUPPORTED, check_claims, with_judgement
from tasks.pipeline.rendering import render_markdown

from ..models import ContentTask, Draft
from ..selectors import (
    EDITABLE_FIELDS,
    style_guide_current,
    task_draft,
    task_research_sources,
    task_result,
    task_stage_output,
)
from ._common import lock_or_404, save

LIMITS = {"title": 200, "seo_title": 60, "meta_description": 160, "excerpt": 1000,
          "body_markdown": 200_000}  # fmt: skip
MAX_TAGS, MAX_TAG_LENGTH = 10, 50


def _clean(changes: dict[str, Any]) -> dict[str, Any]:
    """The changes, checked: known fields, within their limits, no NUL bytes, a title
    and a body that are not empty (ApplicationError, 400)."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError(f"Not editable: {', '.join(sorted(unknown))}.")
    cleaned: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "tags":
            tags = [str(tag).strip().lower() for tag in value or [] if str(tag).strip()]
            tags = list(dict.fromkeys(tags))
            if len(tags) > MAX_TAGS or any(len(tag) > MAX_TAG_LENGTH for tag in tags):
                raise ApplicationError(
                    f"At most {MAX_TAGS} tags of at most {MAX_TAG_LENGTH} characters."
                )
            value = tags
        else:
            value = str(value or "").strip()
            if len(value) > LIMITS[name]:
                raise ApplicationError(f"{name} has at most {LIMITS[name]} characters.")
            if name in ("title", "body_markdown") and not value:
                raise ApplicationError(f"{name} may not be empty.")
        if "\x00" in str(value):
            raise ApplicationError("Text fields may not contain NUL bytes.")
        cleaned[name] = value
    return cleaned


def _editable_draft(task: ContentTask) -> Draft:
    """The current generation's Draft, made from the stage outputs (as the pipeline's
    version, by the system user) when no editor has edited it yet."""
    draft = task_draft(task)
    if draft is not None:
        return draft
    result = task_result(task)
    if result is None:
        raise InvalidTransition("This task has no draft yet.", extra={"status": task.status})
    draft = Draft(task=task, generation=task.generation, body_html=result["body_html"],
                  **{field: result[field] for field in EDITABLE_FIELDS})  # fmt: skip
    draft._history_user = system_user()
    draft._change_reason = "written by the pipeline"
    draft.save()
    return draft


# The reason with_judgement gives a claim a model found unsupported.
MODEL_JUDGED = "model: "


def draft_checks(*, task: ContentTask, draft: Draft) -> dict[str, Any]:
    """The checks of the review stage run again on the draft's text as it stands,
    in the shape Draft.checks keeps them (task_result shows them instead of the
    review's). `claims`: every cited sentence checked against the research's sources
    of the draft's generation; a sentence a model judged unsupported in the review
    stays unsupported while it is still there word for word, since no model reads it
    again here. `style`: the code's rules of the style guide as it is now, on the
    edited text (a model's rules are not judged again without a model)."""
    review = task_stage_output(task, "review", draft.generation)
    judged = {
        claim.get("sentence"): str(claim.get("reason", ""))[len(MODEL_JUDGED) :]
        for claim in review.get("claims") or []
        if claim.get("verdict") == UNSUPPORTED
        and str(claim.get("reason", "")).startswith(MODEL_JUDGED)
    }
    claims = check_claims(draft.body_markdown, task_research_sources(task, draft.generation))
    still = {i: judged[c["sentence"]] for i, c in enumerate(claims) if c["sentence"] in judged}
    text = f"# {draft.title}\n\n{draft.body_markdown}"
    return {
        "claims": with_judgement(claims, still),
        "style": style.report(
            text, style_guide_current(), unjudged="not judged again after the edit"
        ),
    }


def _apply(draft: Draft, changes: dict[str, Any], *, user, reason: str) -> bool:
    """Save the changes as a version of the draft, its checks run again on the new
    text; False (and no version) when they change nothing."""
    changed = {name: value for name, value in changes.items() if getattr(draft, name) != value}
    if not changed:
        return False
    for name, value in changed.items():
        setattr(draft, name, value)
    if "body_markdown" in changed:
        draft.body_html = render_markdown(draft.body_markdown)
    draft.checks = draft_checks(task=draft.task, draft=draft)
    draft._history_user = user
    draft._change_reason = reason
    draft.save()
    return True


def task_draft_hold(*, task_id) -> ContentTask:
    """The task, its row locked until the caller's transaction ends (call it inside
    one): its draft cannot change meanwhile, since every edit and every move takes that
    lock first. For what must be written against the text as it stands (a comment on a
    passage of it, what a request for changes sends on). NotFound for no such task."""
    if not transaction.get_connection().in_atomic_block:
        # Outside a transaction the lock would end as soon as it was taken.
        raise RuntimeError("task_draft_hold holds the task for a transaction: call it in one.")
    return lock_or_404(task_id)


@transaction.atomic
def task_draft_edit(*, task_id, user: AbstractBaseUser, **changes: Any) -> Draft:
    """An editor's edit of the draft awaiting approval (title, excerpt, body, SEO
    fields, tags): saved as a version of the draft with who and when, its HTML rendered
    and sanitized again, its checks run again (`draft_checks`: the claims that
    task_result and approval read from then on). InvalidTransition (409) unless the
    task awaits approval; ApplicationError (400) for a field out of bounds."""
    cleaned = _clean(changes)
    task = lock_or_404(task_id)
    if not task.may("approve"):
        raise InvalidTransition(
            f"Only a draft awaiting approval can be edited; this task is '{task.status}'.",
            extra={"status": task.status},
        )
    draft = _editable_draft(task)
    _apply(draft, cleaned, user=user, reason=f"edited by {user}")
    return draft


@transaction.atomic
def task_reopen(*, task_id, user: AbstractBaseUser, content: dict[str, Any]) -> ContentTask:
    """approved -> awaiting_approval: the approved text of a post that is not live yet
    was changed to `content`, which becomes the draft (a version by `user`, its checks
    run again as for `task_draft_edit`) that an editor must approve again.
    InvalidTransition (409) unless the task is approved."""
    task = lock_or_404(task_id)
    task.move("reopen")
    draft = _editable_draft(task)
    _apply(draft, _clean(content), user=user, reason=f"changed after approval by {user}")
    return save(task, user=user, reason=f"approval re-opened: text changed by {user}",
                message="Changed after approval: awaiting approval again")  # fmt: skip
