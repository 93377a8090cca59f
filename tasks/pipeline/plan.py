"""The plan an editor approves before a draft is written (a task's `review_plan`): an
outline of sections, each {"heading", "point", "sources"}, where `sources` are the
numbers `n` of the research's readable sources the section draws on.

Pure functions, no model: `propose_outline` makes the plan from the research output,
`clean_outline` checks an outline an editor sent (raising PlanError with what is
wrong). The tasks app stores and moves the plan (tasks.services.plans); the draft
stage writes to the approved one."""

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .sources import readable_sources

MAX_SECTIONS = 12
MAX_HEADING = 200
MAX_POINT = 1000
# A section draws on the sources that share at least this many words with it.
MIN_SHARED_WORDS = 1

_WORD = re.compile(r"[a-z0-9]+")
# Words that say nothing of a subject: a heading and a page sharing them share nothing.
_STOP = frozenset(
    """a an and are as at be been but by can do does for from has have how in into is
    it its more most not of on or our so than that the their them then there these they
    this those to use used using was way ways we what when where which who why will with
    you your about also each every other some such all any both one two new""".split()
)


class PlanError(ValueError):
    """An outline that is not a usable plan; the message says why."""


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOP}


def numbered_sources(research: Any) -> list[tuple[int, dict[str, Any]]]:
    """The research's readable sources with their numbers (tasks.pipeline.sources), as
    (n, source) pairs."""
    return [(source["n"], source) for source in readable_sources(research)]


def _one_line(text: Any, limit: int) -> str:
    return " ".join(str(text or "").split())[:limit]


def propose_outline(research: Any, *, topic: str) -> list[dict[str, Any]]:
    """The plan research suggests: one section per outline heading (at most
    MAX_SECTIONS), the key points spread over them in turn as their points, and for
    each the numbers of the readable sources whose text shares the most words with
    its heading and point (none when no source shares any). Without headings the key
    points become the headings; without either, one section on the topic."""
    research = research if isinstance(research, Mapping) else {}
    headings = [_one_line(h, MAX_HEADING) for h in research.get("outline") or ()]
    headings = [h.lstrip("# ").strip() for h in headings]
    headings = [h for h in headings if h][:MAX_SECTIONS]
    key_points = [_one_line(p, MAX_POINT) for p in research.get("key_points") or ()]
    key_points = [p for p in key_points if p]
    if not headings:
        headings = [p[:MAX_HEADING] for p in key_points[:MAX_SECTIONS]]
        key_points = []
    if not headings:
        headings = [_one_line(topic, MAX_HEADING) or "Overview"]
    points: list[list[str]] = [[] for _ in headings]
    for index, point in enumerate(key_points):
        points[index % len(headings)].append(point)
    sources = numbered_sources(research)
    outline = []
    for heading, said in zip(headings, points, strict=True):
        point = " ".join(said)[:MAX_POINT]
        outline.append(
            {"heading": heading, "point": point, "sources": best_sources(heading, point, sources)}
        )
    return outline


def best_sources(
    heading: str, point: str, sources: Sequence[tuple[int, Mapping[str, Any]]]
) -> list[int]:
    """The numbers of the sources sharing the most words with the section (all of
    those that tie), none when no source shares MIN_SHARED_WORDS."""
    wanted = _words(f"{heading} {point}")
    shared = {
        n: len(wanted & _words(f"{source.get('title') or ''} {source.get('text') or ''}"))
        for n, source in sources
    }
    best = max(shared.values(), default=0)
    if best < MIN_SHARED_WORDS:
        return []
    return sorted(n for n, count in shared.items() if count == best)


def clean_outline(outline: Any) -> list[dict[str, Any]]:
    """An edited outline as the plan keeps it, or PlanError: 1 to MAX_SECTIONS sections,
    each a heading of 1 to MAX_HEADING characters (on one line; leading `#`s dropped),
    a point of at most MAX_POINT characters, and source numbers (positive integers,
    repeats dropped)."""
    if not isinstance(outline, Sequence) or isinstance(outline, str | bytes):
        raise PlanError("An outline is a list of sections.")
    if not 1 <= len(outline) <= MAX_SECTIONS:
        raise PlanError(f"An outline has 1 to {MAX_SECTIONS} sections.")
    cleaned = []
    for number, section in enumerate(outline, 1):
        if not isinstance(section, Mapping):
            raise PlanError(f"Section {number} is not a {{heading, point, sources}} object.")
        heading = " ".join(str(section.get("heading") or "").split()).lstrip("# ").strip()
        if not heading or len(heading) > MAX_HEADING:
            raise PlanError(f"Section {number}'s heading has 1 to {MAX_HEADING} characters.")
        point = " ".join(str(section.get("point") or "").split())
        if len(point) > MAX_POINT:
            raise PlanError(f"Section {number}'s point has at most {MAX_POINT} characters.")
        numbers = section.get("sources") or []
        if not isinstance(numbers, Sequence) or isinstance(numbers, str | bytes):
            raise PlanError(f"Section {number}'s sources are a list of source numbers.")
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in numbers):
            raise PlanError(f"Section {number}'s sources are positive whole numbers.")
        if "\x00" in heading or "\x00" in point:
            raise PlanError(f"Section {number} holds a NUL byte.")
        cleaned.append(
            {"heading": heading, "point": point, "sources": list(dict.fromkeys(numbers))}
        )
    return cleaned
