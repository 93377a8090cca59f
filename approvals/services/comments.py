"""Comments on a draft: an editor quotes a passage of the text under review and says
something about it; others reply (one level) and resolve it. When changes are
requested, the open comments go to the next generation as notes of the feedback
ledger (`comments_send_with_changes`, called by `draft_request_changes`)."""

import html
import re

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from contentpipeline.errors import ApplicationError, Forbidden, InvalidTransition, NotFound
from tasks.selectors import task_draft_version, task_get_for_user, task_result
from tasks.services import task_draft_hold

from ..models import DraftComment
from ..workflows import may_review

# Tags that end a line of text where a browser's selection puts a line break: between
# them a passage's words are apart; inside any other tag (<strong>, <a>) they run on.
_BLOCK_TAG = re.compile(
    r"</?(?:p|div|h[1-6]|li|ul|ol|blockquote|pre|br|hr|table|thead|tbody|tr|td|th|"
    r"figure|figcaption|section|article|dl|dt|dd)\b[^>]*>",
    re.IGNORECASE,
)
_ANY_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def _squeeze(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def draft_plain_texts(result: dict) -> list[str]:
    """The draft's text as a reader of the review page selects it (title, then the
    rendered body without its markup), and as its Markdown says it; whitespace
    squeezed, so a selection across paragraphs matches."""
    rendered = _ANY_TAG.sub("", _BLOCK_TAG.sub(" ", result.get("body_html") or ""))
    return [
        _squeeze(f"{result.get('title', '')} {html.unescape(rendered)}"),
        _squeeze(f"{result.get('title', '')} {result.get('body_markdown', '')}"),
        _squeeze(result.get("excerpt") or ""),
    ]


def _clean(value: str, *, name: str, limit: int, required: bool) -> str:
    value = (value or "").strip()
    if "\x00" in value:
        raise ApplicationError(f"The {name} may not contain NUL bytes.")
    if required and not value:
        raise ApplicationError(f"The {name} may not be empty.")
    if len(value) > limit:
        raise ApplicationError(f"The {name} has at most {limit} characters.")
    return value


def _require_reviewer(user: AbstractBaseUser, task) -> None:
    if not may_review(user, task):
        raise Forbidden(
            "Only the draft's reviewers (editors, and the group of its workflow's current "
            "step) comment on it; the task's owner reads the comments."
        )


@transaction.atomic
def comment_add(
    *, task_id, author: AbstractBaseUser, body: str, quote: str = "", parent_id=None
) -> DraftComment:
    """A comment by `author` (a reviewer of the draft: an editor, or a member of the
    group of its workflow's current step; Forbidden, 403, otherwise; NotFound, 404, for
    a task they may not read) on the passage `quote` of the task's current draft, or a
    reply to the comment `parent_id` (of this task, not itself a reply; a reply has
    no quote). `body` is 1 to 5000 characters, `quote` at most 1000, and the quote
    must be in the draft's text as it is now (whitespace aside): ApplicationError
    (400) otherwise, and NUL bytes are refused. A comment is kept with the draft's
    generation and version it was made on (a reply with its parent's).
    InvalidTransition (409) while the task has no draft. The task's row is locked,
    as an edit of the draft locks it, so the quote is checked against the text the
    comment is kept with."""
    task = task_get_for_user(user=author, task_id=task_id)
    _require_reviewer(author, task)
    body = _clean(body, name="comment", limit=DraftComment.MAX_BODY, required=True)
    quote = _clean(quote, name="quote", limit=DraftComment.MAX_QUOTE, required=False)
    task = task_draft_hold(task_id=task.pk)
    if parent_id is not None:
        parent = DraftComment.objects.filter(task=task, pk=_id(parent_id)).first()
        if parent is None:
            raise NotFound("No such comment on this task.")
        if parent.parent_id is not None:
            raise ApplicationError("Reply to the comment itself: replies have no replies.")
        if quote:
            raise ApplicationError("A reply quotes nothing: its comment has the quote.")
        return DraftComment.objects.create(
            task=task, generation=parent.generation, draft_version=parent.draft_version,
            body=body, author=author, parent=parent,
        )  # fmt: skip
    result = task_result(task)
    if result is None:
        raise InvalidTransition("This task has no draft yet.", extra={"status": task.status})
    if not quote:
        raise ApplicationError("Quote the passage of the draft the comment is about.")
    if not any(_squeeze(quote) in text for text in draft_plain_texts(result)):
        raise ApplicationError("The quote is not in the draft's current text.")
    return DraftComment.objects.create(
        task=task, generation=task.generation, draft_version=task_draft_version(task),
        quote=quote, body=body, author=author,
    )  # fmt: skip


@transaction.atomic
def comment_resolve(*, task_id, comment_id, user: AbstractBaseUser) -> DraftComment:
    """Mark a comment (not a reply: resolving a comment closes its thread) resolved by
    `user`, who reviews the draft (see comment_add) or wrote the comment (Forbidden
    otherwise; NotFound
    for a task they may not read or a comment not of it). InvalidTransition (409)
    when it is resolved already. The comment's row is locked: of two resolving at
    once, one resolves."""
    task = task_get_for_user(user=user, task_id=task_id)
    comment = DraftComment.objects.select_for_update().filter(task=task, pk=_id(comment_id)).first()
    if comment is None:
        raise NotFound("No such comment on this task.")
    if not (may_review(user, task) or comment.author_id == user.pk):
        raise Forbidden("Only the draft's reviewers and the comment's author resolve it.")
    if comment.parent_id is not None:
        raise ApplicationError("Resolve the comment, not a reply: the thread is resolved.")
    if comment.resolved:
        raise InvalidTransition("This comment is resolved already.")
    comment.resolved, comment.resolved_by, comment.resolved_at = True, user, timezone.now()
    comment.save(update_fields=["resolved", "resolved_by", "resolved_at"])
    return comment


def comment_feedback_note(comment: DraftComment) -> str:
    """How an open comment reads as a note of the feedback ledger."""
    return f'On "{_squeeze(comment.quote)}": {comment.body}'


def comments_open_for_changes(*, task_id) -> list[DraftComment]:
    """The task's unresolved comments (not replies), oldest first: those a request for
    changes sends to the next generation. Called inside its transaction: the task's
    row is locked first (as `comment_add` locks it, so none is added meanwhile and the
    locks are taken in one order), then theirs."""
    task_draft_hold(task_id=task_id)
    return list(
        DraftComment.objects.select_for_update()
        .filter(task_id=task_id, parent__isnull=True, resolved=False)
        .order_by("created_at", "id")
    )


def comments_mark_sent(
    *, comments: list[DraftComment], user: AbstractBaseUser, generation: int
) -> None:
    """The comments went to `generation` as feedback notes: resolved by `user` now,
    with `sent_to_generation` saying why."""
    now = timezone.now()
    DraftComment.objects.filter(pk__in=[comment.pk for comment in comments]).update(
        resolved=True, resolved_by=user, resolved_at=now, sent_to_generation=generation
    )


# The largest id PostgreSQL's bigint holds: a larger one is no comment's (and asking
# the database for it would be an error, not a "not found").
_MAX_ID = 2**63 - 1


def _id(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise NotFound("No such comment on this task.") from exc
    if not 0 < number <= _MAX_ID:
        raise NotFound("No such comment on this task.")
    return number
