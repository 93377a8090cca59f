"""Claims checked against the sources they cite: the deterministic layer.

A claim is a sentence of the draft that cites one or more numbered sources ("[1]").
Its verdict, from what is checkable without a model:

- `unverifiable`: none of the sources it cites could be read (nothing to check with);
- `unsupported`: it cites a number no source has, or a number, date, percentage,
  quoted phrase or proper name in it does not appear in the text of the sources it
  cites (what is missing is its `reason`);
- `supported`: everything checkable appears there.

It works the same with every provider and offline. A model's judgement (entailment,
in the review stage) may only turn a `supported` claim `unsupported`
(`with_judgement`), never the other way round. Each claim carries the excerpt of its
source that should support it: the source sentence that shares most with it.

A claim is {"sentence", "source" (the first number it cites), "sources" (all of them),
"verdict", "excerpt", "reason"}; `sources` are the task's numbered sources as research
keeps them ({"n", "url", "title", "text", "ok", ...}).
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .text import sentences

SUPPORTED, UNSUPPORTED, UNVERIFIABLE = "supported", "unsupported", "unverifiable"
VERDICTS = (SUPPORTED, UNSUPPORTED, UNVERIFIABLE)
MAX_EXCERPT = 300
MAX_SENTENCE = 1_000

_NUMBER = re.compile(r"(?<![\w.])\d(?:[\d,]*\d)?(?:\.\d+)?(?:\s?(?:%|percent\b|per cent\b))?")
_QUOTED = re.compile(r"[\"\u201c]([^\"\u201c\u201d]{2,200})[\"\u201d]")
_CAPITALIZED = re.compile(r"\b[A-Z][\w'\u2019-]*")
_WORD = re.compile(r"[a-z0-9]+")
_SOURCE_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
# Capitalized words that name nothing: a sentence may start with them, a title may
# carry them; they are not checked as names.
_COMMON = frozenset(
    """a an the this that these those it its in on at by for from with of to and or but
    so as if when while after before since because although though during over under
    however yet also both such many most some each every our their we you they he she
    there here what why how who which one two three four five first second third today
    according despite between among into about more less than all any no not i
    monday tuesday wednesday thursday friday saturday sunday""".split()
)
_STOP = _COMMON | frozenset("is are was were be been has have had do does did will can".split())


def _numbers(text: str) -> set[str]:
    """The numbers in `text`, as written without thousands separators; a percentage
    as "<n>%" ("45 percent" too)."""
    found = set()
    for match in _NUMBER.finditer(text):
        token = match.group(0)
        value = re.match(r"[\d,.]+", token).group(0).replace(",", "").rstrip(".")
        found.add(f"{value}%" if not token[-1].isdigit() else value)
    return found


def _normalized(text: str) -> str:
    return " ".join(re.sub(r"[\u2018\u2019]", "'", text).lower().split())


def _names(sentence: str) -> list[str]:
    """Proper names in the sentence: capitalized words past its first word (or an
    acronym anywhere) that are not common words."""
    names = []
    for match in _CAPITALIZED.finditer(sentence):
        word = re.sub(r"['\u2019]s$", "", match.group(0)).strip("'\u2019-")
        if not word or word.lower() in _COMMON:
            continue
        acronym = sum(char.isupper() for char in word) >= 2
        if match.start() == 0 and not acronym:
            continue
        names.append(word)
    return names


def missing_facts(claim: str, source_text: str) -> list[str]:
    """What the claim states that the source text does not contain: numbers (dates and
    percentages among them), quoted phrases and proper names, in that order."""
    source = _normalized(source_text)
    missing: list[str] = []
    source_numbers = _numbers(source_text)
    for number in sorted(_numbers(claim), key=claim.find):
        if number not in source_numbers:
            missing.append(number)
    for quoted in _QUOTED.findall(claim):
        if _normalized(quoted) not in source:
            missing.append(f"\u201c{quoted}\u201d")
    words = set(_WORD.findall(source))
    for name in _names(claim):
        parts = _WORD.findall(name.lower())
        if parts and not all(part in words for part in parts):
            missing.append(name)
    return list(dict.fromkeys(missing))


def best_excerpt(claim: str, source_text: str) -> str:
    """The source's sentence that shares the most words with the claim (numbers count
    double), cut to MAX_EXCERPT characters; "" for an empty source."""
    wanted = {w for w in _WORD.findall(claim.lower()) if w not in _STOP}
    numbers = _numbers(claim)
    best, best_score = "", 0.0
    for candidate in _SOURCE_SENTENCE.split(source_text):
        candidate = " ".join(candidate.split())
        if not candidate:
            continue
        have = set(_WORD.findall(candidate.lower()))
        score = len(wanted & have) + 2 * len(numbers & _numbers(candidate))
        if score > best_score:
            best, best_score = candidate, score
    return best[:MAX_EXCERPT]


def check_claims(markdown: str, sources: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every cited sentence of `markdown` as a claim with its deterministic verdict."""
    by_number = {}
    for index, source in enumerate(sources, 1):
        by_number[int(source.get("n") or index)] = source
    claims = []
    for sentence, cited in sentences(markdown):
        if not cited:
            continue
        claims.append(_verdict(sentence[:MAX_SENTENCE], cited, by_number))
    return claims


def _verdict(sentence: str, cited: list[int], by_number: dict) -> dict[str, Any]:
    claim = {"sentence": sentence, "source": cited[0], "sources": cited, "excerpt": ""}
    unknown = [n for n in cited if n not in by_number]
    if unknown:
        listed = ", ".join(f"[{n}]" for n in unknown)
        return {**claim, "verdict": UNSUPPORTED, "reason": f"cites {listed}: no such source"}
    readable = [by_number[n] for n in cited if by_number[n].get("ok") and by_number[n].get("text")]
    if not readable:
        return {**claim, "verdict": UNVERIFIABLE, "reason": "the cited source could not be read"}
    text = "\n".join(str(source["text"]) for source in readable)
    excerpts = [(best_excerpt(sentence, str(s["text"])), s) for s in readable]
    excerpt, source = max(excerpts, key=lambda pair: _overlap(sentence, pair[0]))
    claim.update(source=int(source.get("n") or cited[0]), excerpt=excerpt)
    missing = missing_facts(sentence, text)
    if missing:
        where = "the cited sources" if len(readable) > 1 else f"source [{claim['source']}]"
        said = ", ".join(missing[:5])
        return {**claim, "verdict": UNSUPPORTED, "reason": f"{said}: not in {where}"}
    return {**claim, "verdict": SUPPORTED, "reason": ""}


def _overlap(claim: str, excerpt: str) -> int:
    return len(set(_WORD.findall(claim.lower())) & set(_WORD.findall(excerpt.lower())))


def with_judgement(claims: list[dict[str, Any]], unsupported: Mapping[int, str]) -> list[dict]:
    """The claims with a model's judgement applied: each index in `unsupported` (with
    the model's reason) turns a `supported` claim `unsupported`. A claim the
    deterministic layer found unsupported or unverifiable stays so: the model may add
    doubt, never remove it."""
    judged = []
    for index, claim in enumerate(claims):
        if claim["verdict"] == SUPPORTED and index in unsupported:
            reason = str(unsupported[index] or "the source does not say this")[:300]
            claim = {**claim, "verdict": UNSUPPORTED, "reason": f"model: {reason}"}
        judged.append(claim)
    return judged


def open_unsupported(claims: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The claims an approval must acknowledge: those found unsupported."""
    return [dict(claim) for claim in claims if claim.get("verdict") == UNSUPPORTED]
