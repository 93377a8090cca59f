"""Editors' edits of a draft before they decide, each a version of the draft (who,
when); and a post's approved text changed before it went live, which re-opens
approval."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from contentpipeline.errors import ApplicationError, InvalidTransition
from contentpipeline.roles import system_user
from tasks.pipeline import style
from tasks.pipeline.rendering import render_markdown

from ..models import ContentTask, Draft
from ..selectors import EDITABLE_FIELDS, style_guide_current, task_draft, task_result
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


def _apply(draft: Draft, changes: dict[str, Any], *, user, reason: str) -> bool:
    """Save the changes as a version of the draft; False (and no version) when they
    change nothing."""
    changed = {name: value for name, value in changes.items() if getattr(draft, name) != value}
    if not changed:
        return False
    for name, value in changed.items():
        setattr(draft, name, value)
    if "body_markdown" in changed:
        draft.body_html = render_markdown(draft.body_markdown)
    # The code's style rules again, on the edited text, with the guide as it is now; a
    # model's rules are not judged again without a model.
    text = f"# {draft.title}\n\n{draft.body_markdown}"
    draft.checks = {**(draft.checks or {}), "style": style.report(
        text, style_guide_current(), unjudged="not judged again after the edit")}  # fmt: skip
    draft._history_user = user
    draft._change_reason = reason
    draft.save()
    return True


@transaction.atomic
def task_draft_edit(*, task_id, user: AbstractBaseUser, **changes: Any) -> Draft:
    """An editor's edit of the draft awaiting approval (title, excerpt, body, SEO
    fields, tags): saved as a version of the draft with who and when, its HTML rendered
    and sanitized again. InvalidTransition (409) unless the task awaits approval;
    ApplicationError (400) for a field out of bounds."""
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
    was changed to `content`, which becomes the draft (a version by `user`) that an
    editor must approve again. InvalidTransition (409) unless the task is approved."""
    task = lock_or_404(task_id)
    task.move("reopen")
    draft = _editable_draft(task)
    _apply(draft, _clean(content), user=user, reason=f"changed after approval by {user}")
    return save(task, user=user, reason=f"approval re-opened: text changed by {user}",
                message="Changed after approval: awaiting approval again")  # fmt: skip
