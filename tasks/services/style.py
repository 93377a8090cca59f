"""The house style guide: one guide (pk 1), each change of it a version (simple-history,
with who and why) whose number the stages that use it record."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from contentpipeline.errors import ApplicationError

from ..models import StyleGuide

LINE_FIELDS = ("banned_phrases", "required_phrases", "model_rules")
EDITABLE = (*LINE_FIELDS, "no_exclamation_marks", "max_sentence_words")
MAX_LINES, MAX_LINE = 200, 500
MAX_SENTENCE_WORDS = 1000


def _lines(value: Any) -> str:
    """Text or a list, as the guide stores it: one item a line, without blanks or
    repeats."""
    items = value.splitlines() if isinstance(value, str) else list(value or [])
    cleaned = list(dict.fromkeys(" ".join(str(item).split()) for item in items))
    cleaned = [item for item in cleaned if item]
    if len(cleaned) > MAX_LINES or any(len(item) > MAX_LINE for item in cleaned):
        raise ApplicationError(f"At most {MAX_LINES} lines of at most {MAX_LINE} characters.")
    if any("\x00" in item for item in cleaned):
        raise ApplicationError("Text fields may not contain NUL bytes.")
    return "\n".join(cleaned)


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ApplicationError(f"Not a rule of the style guide: {', '.join(sorted(unknown))}.")
    cleaned: dict[str, Any] = {}
    for name, value in fields.items():
        if name in LINE_FIELDS:
            cleaned[name] = _lines(value)
        elif name == "no_exclamation_marks":
            cleaned[name] = bool(value)
        else:
            if value in (None, "", 0):
                cleaned[name] = None
                continue
            try:
                words = int(value)
            except (TypeError, ValueError):
                words = 0
            if not 1 <= words <= MAX_SENTENCE_WORDS:
                raise ApplicationError(
                    f"max_sentence_words is a number of words from 1 to {MAX_SENTENCE_WORDS}."
                )
            cleaned[name] = words
    return cleaned


@transaction.atomic
def style_guide_update(*, user: AbstractBaseUser, reason: str = "", **fields: Any) -> StyleGuide:
    """Change the style guide's rules (any of banned_phrases, required_phrases,
    model_rules: text one a line, or lists; no_exclamation_marks; max_sentence_words:
    None for no limit): saved as its next version, with who (`user`) and why. A change
    that changes nothing is no version. The guide's row is locked, so two editors'
    saves are two versions, one after the other. ApplicationError (400) for an unknown
    or out-of-bounds field. Only the stages that start afterwards use it: approved
    drafts keep the results of the version they were checked with."""
    cleaned = _clean(fields)
    # Made the first time without a version of its own (no history signal): version 1
    # is the first one an editor saves.
    StyleGuide.objects.bulk_create([StyleGuide(pk=1)], ignore_conflicts=True)
    guide = StyleGuide.objects.select_for_update().get(pk=1)
    changed = {name: value for name, value in cleaned.items() if getattr(guide, name) != value}
    if not changed:
        return guide
    for name, value in changed.items():
        setattr(guide, name, value)
    guide.version += 1
    guide._history_user = user
    guide._change_reason = reason or f"edited by {user}"
    guide.save()
    return guide
