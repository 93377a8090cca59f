"""The house style guide in the pipeline: its rules as the stages get them
(`StyleRules`, read from the guide when a stage's job is built), the guide as the
draft prompt states it (`describe`), and the rules checked against a draft.

Rules of two kinds:
- checked by code (`check_style`): banned words or phrases (as whole words, whatever
  their case), no exclamation marks, a maximum sentence length, required phrases;
- judged by a model (`model_rules`: tone, audience, free text): the review prompt asks
  for a verdict on each (`prompt`), read back by `model_results`. Without a model's
  verdict a rule is reported as not judged (`passed` None).

A result is {"rule", "kind": "code" | "model", "passed": bool | None, "sentence" (the
first offending sentence, "" when none or for a missing required phrase), "detail"};
a report is {"version", "results"}."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .text import sentences, strip_markdown

CODE, MODEL = "code", "model"
MAX_SENTENCE = 1_000


@dataclass(frozen=True)
class StyleRules:
    """The style guide as one version of it stood; version 0 is the guide never saved."""

    version: int = 0
    banned_phrases: tuple[str, ...] = ()
    no_exclamation_marks: bool = False
    max_sentence_words: int | None = None
    required_phrases: tuple[str, ...] = ()
    model_rules: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("banned_phrases", "required_phrases", "model_rules"):
            items = (" ".join(str(item).split()) for item in getattr(self, name))
            object.__setattr__(self, name, tuple(dict.fromkeys(item for item in items if item)))

    @property
    def empty(self) -> bool:
        return not (
            self.banned_phrases
            or self.no_exclamation_marks
            or self.max_sentence_words
            or self.required_phrases
            or self.model_rules
        )


def describe(rules: StyleRules | None) -> str:
    """The guide as the draft (and refine) prompt states it; "" when it has no rule."""
    if rules is None or rules.empty:
        return ""
    lines = [f"House style guide (version {rules.version}); follow every rule:"]
    if rules.banned_phrases:
        banned = ", ".join(f'"{phrase}"' for phrase in rules.banned_phrases)
        lines.append(f"- Never use these words or phrases: {banned}.")
    if rules.no_exclamation_marks:
        lines.append("- No exclamation marks.")
    if rules.max_sentence_words:
        lines.append(f"- No sentence longer than {rules.max_sentence_words} words.")
    lines += [f'- The piece must contain "{phrase}".' for phrase in rules.required_phrases]
    lines += [f"- {rule}" for rule in rules.model_rules]
    return "\n".join(lines)


def _phrase(phrase: str) -> re.Pattern:
    """A phrase as whole words, any case, any run of spaces between its words."""
    words = [re.escape(word) for word in phrase.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)


_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")
_BLOCK_START = re.compile(r"^\s*(?:#{1,6}\s|[-*+]\s|\d{1,9}[.)]\s|>|```|~~~|\|)")


def unwrapped(markdown: str) -> str:
    """The Markdown with each paragraph on one line: a sentence wrapped over two lines
    is one sentence (and one length) to a reader."""
    lines: list[str] = []
    in_code = False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_code = not in_code
        joins = lines and lines[-1].strip() and not _BLOCK_START.match(lines[-1])
        if not in_code and joins and line.strip() and not _BLOCK_START.match(line):
            lines[-1] = f"{lines[-1].rstrip()} {line.strip()}"
        else:
            lines.append(line)
    return "\n".join(lines)


def units(markdown: str) -> tuple[list[str], list[str]]:
    """(headings, prose sentences) of the draft as a reader sees them."""
    headings = [
        " ".join(strip_markdown(line).split())
        for line in markdown.splitlines()
        if _HEADING.match(line)
    ]
    return headings, [sentence for sentence, _ in sentences(unwrapped(markdown))]


def _result(rule: str, kind: str, passed: bool | None, sentence: str = "", detail: str = ""):
    return {"rule": rule, "kind": kind, "passed": passed, "sentence": sentence[:MAX_SENTENCE],
            "detail": detail}  # fmt: skip


def check_style(markdown: str, rules: StyleRules) -> list[dict[str, Any]]:
    """The code's rules against a draft (Markdown; its title as a `# ` line counts as
    a heading): one result per rule, the first offending sentence (or heading) of a
    failed one."""
    headings, prose = units(markdown)
    text = " ".join([*headings, *prose])
    results = []
    for phrase in rules.banned_phrases:
        pattern = _phrase(phrase)
        offending = next((s for s in [*prose, *headings] if pattern.search(s)), None)
        results.append(_result(f'Banned: "{phrase}"', CODE, offending is None, offending or ""))
    if rules.no_exclamation_marks:
        offending = next((s for s in [*prose, *headings] if "!" in s), None)
        results.append(_result("No exclamation marks", CODE, offending is None, offending or ""))
    if rules.max_sentence_words:
        limit = rules.max_sentence_words
        offending = next((s for s in prose if len(s.split()) > limit), None)
        detail = f"{len(offending.split())} words" if offending else ""
        results.append(_result(f"At most {limit} words a sentence", CODE, offending is None,
                               offending or "", detail))  # fmt: skip
    for phrase in rules.required_phrases:
        found = _phrase(phrase).search(text) is not None
        results.append(_result(f'Required: "{phrase}"', CODE, found, "",
                               "" if found else "not in the piece"))  # fmt: skip
    return results


def prompt(rules: StyleRules | None) -> str:
    """What the review prompt adds for the rules a model judges ("" when none)."""
    if rules is None or not rules.model_rules:
        return ""
    listed = "\n".join(f"{n}. {rule}" for n, rule in enumerate(rules.model_rules, start=1))
    return (
        'Also answer with the key "style": for each house style rule below, {"rule": '
        '<its number>, "passed": true or false, "sentence": the first sentence that '
        f'breaks it, or ""}}.\nHouse style rules:\n{listed}'
    )


def model_results(
    rules: StyleRules, data: Mapping[str, Any] | None, *, unjudged: str
) -> list[dict[str, Any]]:
    """One result per model rule from a model's review JSON (`data`): its verdict, or
    passed None with `unjudged` as the detail when it gave none."""
    verdicts: dict[int, Mapping[str, Any]] = {}
    raw = (data or {}).get("style")
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, Mapping) or not isinstance(item.get("passed"), bool):
            continue
        number = _rule_number(item.get("rule"), rules.model_rules)
        if number is not None:
            verdicts.setdefault(number, item)
    results = []
    for number, rule in enumerate(rules.model_rules, start=1):
        verdict = verdicts.get(number)
        if verdict is None:
            results.append(_result(rule, MODEL, None, "", unjudged))
            continue
        sentence = "" if verdict["passed"] else " ".join(str(verdict.get("sentence") or "").split())
        results.append(_result(rule, MODEL, verdict["passed"], sentence))
    return results


def _rule_number(value: Any, rules: Sequence[str]) -> int | None:
    """The rule a verdict names: by its number, or by its text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 1 <= value <= len(rules) else None
    text = " ".join(str(value or "").split()).lower()
    if text.isdigit():
        return _rule_number(int(text), rules)
    lowered = [rule.lower() for rule in rules]
    return lowered.index(text) + 1 if text in lowered else None


def report(
    markdown: str,
    rules: StyleRules | None,
    data: Mapping[str, Any] | None = None,
    *,
    unjudged: str = "not judged: no model",
) -> dict[str, Any] | None:
    """The review's style report on a draft: the code's results, then the model's (from
    its review JSON `data`); None when there is no guide."""
    if rules is None:
        return None
    results = check_style(markdown, rules) + model_results(rules, data, unjudged=unjudged)
    return {"version": rules.version, "results": results}


def version_of(rules: StyleRules | None) -> int | None:
    """The guide's version a stage records (None: it had no guide)."""
    return None if rules is None else rules.version
