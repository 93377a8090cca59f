"""The feedback ledger in the pipeline: every editor's note on an earlier draft goes to
the next drafts (`describe`), and the review reports, for each note, whether the new
draft addresses it (`checklist`).

With a model, the review prompt asks it (`prompt`) and its answer, one verdict per
numbered note, is read by `answers`. A note the model gave no verdict for (and every
note offline) is judged by code: most of the note's content words appear in the draft,
outside the sentences that only restate the note ("To add a section on costs, ..."),
so a note that was merely repeated back is not counted as addressed.

A checklist item is {"note", "generation", "addressed": bool, "judged_by": "model" |
"code"}."""

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .style import units

# Words that say what to do or how much, not what about: "Please add more concrete
# examples" is about examples.
_REQUEST_WORDS = frozenset(
    """a an the this that these those it its in on at by for from with of to and or but
    so as if be is are was were been has have had do does did will can could should
    would may might must not no nor too very more less much many few lot lots some any
    each every all also just only even than then there here what why how who which when
    where please add adds added address avoid clarify consider cover cut define describe
    discuss drop elaborate emphasise emphasize expand explain focus give highlight
    improve include keep make mention provide reduce remove rephrase rewrite shorten
    show simplify streamline strengthen tighten use write need needs want wants draft
    piece article post text section part bit thing things about into out up our your
    their we you they i me my us he she him her them concrete specific clear clearer
    clearly better detailed real good great short shorter long longer new strong
    stronger simple simpler brief briefly little way ways maybe perhaps""".split()
)
_WORD = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+)?")
# Most of a note's content words: a note of one or two words needs all of them.
ADDRESSED_SHARE = 0.6


def _stem(word: str) -> str:
    """A crude stem, so "examples" meets "example" and "costs" meets "cost"."""
    word = re.sub(r"['\u2019]s$", "", word)
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    elif word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        word = word[:-1]
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


def content_words(note: str) -> list[str]:
    """The stems of what a note is about, in order, without repeats."""
    found = [_stem(word) for word in _WORD.findall(note.lower()) if word not in _REQUEST_WORDS]
    return list(dict.fromkeys(word for word in found if len(word) >= 3))


def _restates(sentence: str, note: str) -> bool:
    """Whether the sentence carries the note's own words in a row (a run of four, or
    the whole of a shorter note): it repeats the note back rather than acting on it."""
    said = " ".join(_WORD.findall(sentence.lower()))
    words = _WORD.findall(note.lower())
    run = min(4, len(words))
    return run > 0 and any(
        " ".join(words[i : i + run]) in said for i in range(len(words) - run + 1)
    )


def addressed(note: str, markdown: str) -> bool:
    """Whether the draft (Markdown, its title a `# ` line) acts on the note: most of
    the note's content words appear in it, outside sentences that only restate it."""
    wanted = content_words(note)
    if not wanted:
        return False
    headings, prose = units(markdown)
    stems = {
        _stem(word)
        for text in (*headings, *prose)
        if not _restates(text, note)
        for word in _WORD.findall(text.lower())
    }
    found = sum(word in stems for word in wanted)
    return found >= math.ceil(ADDRESSED_SHARE * len(wanted))


def prompt(notes: Sequence[tuple[int, str]]) -> str:
    """What the review prompt adds for the ledger's notes ("" when there are none)."""
    if not notes:
        return ""
    listed = "\n".join(f"{n}. {note}" for n, (_, note) in enumerate(notes, start=1))
    return (
        'Also answer with the key "feedback_checklist": for each editor\'s note below, '
        '{"note": <its number>, "addressed": true or false}, whether this draft '
        f"addresses it.\nEditors' notes:\n{listed}"
    )


def answers(data: Mapping[str, Any]) -> dict[int, bool]:
    """A model's verdicts in its review JSON, by the note's number; anything that is
    not a numbered verdict is left out (and judged by code)."""
    raw = data.get("feedback_checklist")
    found: dict[int, bool] = {}
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, Mapping) or not isinstance(item.get("addressed"), bool):
            continue
        try:
            number = int(item.get("note"))
        except (TypeError, ValueError):
            continue
        found.setdefault(number, item["addressed"])
    return found


def checklist(
    notes: Sequence[tuple[int, str]], markdown: str, verdicts: Mapping[int, bool] | None = None
) -> list[dict[str, Any]]:
    """One item per note, in the ledger's order: the model's verdict where it gave
    one, the code's otherwise."""
    verdicts = verdicts or {}
    items = []
    for number, (generation, note) in enumerate(notes, start=1):
        judged = verdicts.get(number)
        items.append({
            "note": note,
            "generation": generation,
            "addressed": addressed(note, markdown) if judged is None else judged,
            "judged_by": "code" if judged is None else "model",
        })  # fmt: skip
    return items
