"""The offline writer's tables, read from the TOML files beside this module: once, and checked.

`phrases.toml` holds the phrase banks every sentence, title and heading is drawn from, and
`lexicon.toml` the closed word lists the topic-shape parser leans on. They are data, edited
without reading Python, so this module declares what each table must be (`Phrases`,
`Lexicon`) and checks the files against it when they are first read: the shape of each table,
its keys (every tone, style or section kind the writer looks up), and the placeholders each
template may use (what the code fills that table with). A malformed table fails there, with the
file and the key named, instead of as a KeyError halfway through some brief's article. The one
loaded copy is shared by every call, so it is immutable: tuples, frozensets, read-only mappings.
"""

import functools
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

HERE = Path(__file__).resolve().parent

TONES = ("professional", "casual", "academic", "inspirational")
STYLES = ("technical", "narrative", "listicle", "educational", "thought_leadership")
TASK_TYPES = ("blog_post", "social_post", "newsletter")
# The kinds of section the writer plans; each has sentences of its own in `kind_lines`.
KINDS = tuple(
    "overview why how implement pitfalls examples measure future tools perspective story "
    "intro conclusion".split()
)
# What `Sentences.fill` fills a template with (phrases.toml's first comment says what each is).
FILLED = frozenset({"topic", "T", "pk", "kw", "kws", "x", "s", "aud", "piece"})
# The opening of a question or how-to topic (`Writer.opening`).
OPENING = frozenset({"aud", "piece", "clause"})

Bank = tuple[str, ...]


class TableError(ValueError):
    """A table file that is missing, is not TOML, or does not have the declared shape."""


def _found(value: Any) -> str:
    return f"found {type(value).__name__} {value!r:.60}"


@dataclass(frozen=True)
class Text:
    """A non-empty string whose {placeholders} are among `fields` (none: used as written)."""

    fields: frozenset[str] = frozenset()
    choices: tuple[str, ...] = ()

    def load(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise TableError(f"{where}: expected a non-empty string, {_found(value)}")
        if self.choices and value not in self.choices:
            raise TableError(f"{where}: {value!r} is not one of {', '.join(self.choices)}")
        try:
            named = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as error:  # a lone "{" or "}"
            raise TableError(f"{where}: {error} in {value!r}") from None
        unknown = sorted(named - self.fields)
        if unknown:
            allowed = ", ".join(f"{{{name}}}" for name in sorted(self.fields)) or "none"
            raise TableError(
                f"{where}: {value!r} uses {{{unknown[0]}}}, which this table is not filled with "
                f"(it may use: {allowed})"
            )
        return value


@dataclass(frozen=True)
class Lines:
    """A non-empty list of strings, each a `Text` with these placeholders."""

    fields: frozenset[str] = frozenset()

    def load(self, value: Any, where: str) -> Bank:
        if not isinstance(value, list) or not value:
            raise TableError(f"{where}: expected a non-empty list of strings, {_found(value)}")
        text = Text(self.fields)
        return tuple(text.load(item, f"{where}[{index}]") for index, item in enumerate(value))


@dataclass(frozen=True)
class Words:
    """A word list written as one string of lower-case words, read as a set."""

    def load(self, value: Any, where: str) -> frozenset[str]:
        if not isinstance(value, str) or not value.split():
            raise TableError(f"{where}: expected a string of words, {_found(value)}")
        capitalised = [word for word in value.split() if word != word.lower()]
        if capitalised:
            # The parser lowercases a word before looking it up, so this one would never match.
            raise TableError(f"{where}: {capitalised[0]!r} is not lower case")
        return frozenset(value.split())


@dataclass(frozen=True)
class Number:
    """A whole number."""

    def load(self, value: Any, where: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TableError(f"{where}: expected a whole number, {_found(value)}")
        return value


@dataclass(frozen=True)
class Pair:
    """A two-item list, read as a (first, second) tuple."""

    first: Any
    second: Any

    def load(self, value: Any, where: str) -> tuple[Any, Any]:
        if not isinstance(value, list) or len(value) != 2:
            raise TableError(f"{where}: expected a pair [first, second], {_found(value)}")
        return self.first.load(value[0], f"{where}[0]"), self.second.load(value[1], f"{where}[1]")


@dataclass(frozen=True)
class Pairs:
    """A non-empty list of `Pair`s, in the file's order (which the code may rely on)."""

    first: Any
    second: Any

    def load(self, value: Any, where: str) -> tuple[tuple[Any, Any], ...]:
        if not isinstance(value, list) or not value:
            raise TableError(f"{where}: expected a non-empty list of pairs, {_found(value)}")
        pair = Pair(self.first, self.second)
        return tuple(pair.load(item, f"{where}[{index}]") for index, item in enumerate(value))


@dataclass(frozen=True)
class Table:
    """A table of `of` values; with `keys`, exactly those keys, each of which the code uses."""

    of: Any
    keys: tuple[str, ...] = ()

    def load(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, dict) or not value:
            raise TableError(f"{where}: expected a table, {_found(value)}")
        if self.keys:
            # An unknown key first: a misspelt one is also the reason another is missing.
            extra = [key for key in value if key not in self.keys]
            if extra:
                raise TableError(
                    f"{where}.{extra[0]}: not one of the keys the writer uses "
                    f"({', '.join(self.keys)})"
                )
            missing = [key for key in self.keys if key not in value]
            if missing:
                raise TableError(f"{where}: has no entry for {missing[0]!r}")
        loaded = {key: self.of.load(item, f"{where}.{key}") for key, item in value.items()}
        return MappingProxyType(loaded)


def table(check: Any) -> Any:
    """A field of a tables class: read from the file under the field's name, checked by `check`."""
    return field(metadata={"check": check})


@dataclass(frozen=True)
class Phrases:
    """phrases.toml: the writer's phrase banks (the file's comments say what each one is)."""

    general: Bank = table(Lines(FILLED))
    subjects: Bank = table(Lines(FILLED))
    predicates: Bank = table(Lines(FILLED))
    connectors: Mapping[str, Bank] = table(Table(Lines(), TONES))
    tone_lines: Mapping[str, Bank] = table(Table(Lines(FILLED), TONES))
    style_lines: Mapping[str, Bank] = table(Table(Lines(FILLED), STYLES))
    kind_lines: Mapping[str, Bank] = table(Table(Lines(FILLED), KINDS))
    stand_ins: Bank = table(Lines())
    keyword_lines: Bank = table(Lines(FILLED))
    multi_keyword_lines: Bank = table(Lines(frozenset({"kws", "topic"})))
    compact_keyword_lines: Bank = table(Lines(frozenset({"kws"})))
    compact_audience_lines: Mapping[str, str] = table(Table(Text(FILLED), TONES))
    audience_lines: Mapping[str, str] = table(Table(Text(FILLED), TONES))
    audience_extra: Bank = table(Lines(FILLED))
    hooks: Mapping[str, Bank] = table(Table(Lines(FILLED), STYLES))
    greetings: Mapping[str, str] = table(Table(Text(), TONES))
    sign_offs: Mapping[str, str] = table(Table(Text(), TONES))
    calls_to_action: Mapping[str, Bank] = table(Table(Lines(FILLED), TONES))
    micro_lines: Mapping[str, Bank] = table(Table(Lines(), TONES))
    bullet_leads: Mapping[str, Bank] = table(Table(Lines(), TONES))
    bullets: Bank = table(Lines(FILLED))
    responses_to_requests: Bank = table(Lines(frozenset({"p", "topic", "aud", "piece"})))
    responses_to_remarks: Bank = table(Lines(frozenset({"p", "topic", "aud", "piece"})))
    feedback_headings: Mapping[str, str] = table(Table(Text(), TONES))
    imperative_verbs: frozenset[str] = table(Words())
    feedback_themes: Mapping[str, Bank] = table(
        Table(Lines(), ("examples", "keywords", "action", "audience", "depth", "structure"))
    )
    section_plans: Mapping[str, tuple[tuple[str, Bank], ...]] = table(
        Table(Pairs(Text(choices=KINDS), Lines(frozenset({"T"}))), STYLES)
    )
    conclusion_headings: Mapping[str, Bank] = table(
        Table(Lines(), (*STYLES, "newsletter", "social_post"))
    )
    titles: Mapping[str, Bank] = table(Table(Lines(frozenset({"T", "n"})), STYLES))
    tone_titles: Mapping[str, str] = table(Table(Text(frozenset({"T", "n"})), TONES))
    angles: Mapping[str, str] = table(Table(Text(FILLED), STYLES))
    tone_notes: Mapping[str, str] = table(Table(Text(), TONES))
    kind_hints: tuple[tuple[str, Bank], ...] = table(Pairs(Text(choices=KINDS), Lines()))
    conclusion_hints: Bank = table(Lines())
    contractions: tuple[tuple[str, str], ...] = table(Pairs(Text(), Text()))
    shape_titles: Mapping[str, Bank] = table(
        Table(Lines(frozenset({"T"})), ("question", "howto", "list"))
    )
    question_follow_ups: Bank = table(Lines(OPENING))
    clause_openers: Mapping[str, Bank] = table(Table(Lines(OPENING), ("question", "howto")))
    list_openers: Bank = table(Lines(OPENING | {"items"}))
    list_leads: Mapping[str, str] = table(Table(Text(), TONES))
    list_glance_headings: Bank = table(Lines())
    list_items: Mapping[str, tuple[tuple[str, str], ...]] = table(
        Table(Pairs(Text(choices=KINDS), Text()), ("actions", "mistakes", "reasons"))
    )
    credit_lines: Mapping[str, str] = table(Table(Text(frozenset({"sources", "piece"})), TONES))


@dataclass(frozen=True)
class Lexicon:
    """lexicon.toml: the word lists the topic-shape parser needs."""

    question_words: frozenset[str] = table(Words())
    be: frozenset[str] = table(Words())
    do: frozenset[str] = table(Words())
    modals: frozenset[str] = table(Words())
    have: frozenset[str] = table(Words())
    contracted: Mapping[str, tuple[str, str]] = table(Table(Pair(Text(), Text())))
    pronouns: frozenset[str] = table(Words())
    determiners: frozenset[str] = table(Words())
    small_words: frozenset[str] = table(Words())
    possessive_swap: Mapping[str, str] = table(Table(Text()))
    prepositions: frozenset[str] = table(Words())
    predicate_starters: frozenset[str] = table(Words())
    plural_irregular: frozenset[str] = table(Words())
    singular_in_s: Bank = table(Lines())
    number_words: Mapping[str, int] = table(Table(Number()))
    mistake_heads: frozenset[str] = table(Words())
    reason_heads: frozenset[str] = table(Words())
    guide_wrappers: Bank = table(Lines())
    aspect_heads: frozenset[str] = table(Words())
    irregular_gerunds: Mapping[str, str] = table(Table(Text()))
    doubled_final: frozenset[str] = table(Words())
    irregular_past: Mapping[str, str] = table(Table(Text()))
    third_person_irregular: Mapping[str, str] = table(Table(Text()))
    verbs: frozenset[str] = table(Words())
    proper_nouns: frozenset[str] = table(Words())

    @property
    def auxiliaries(self) -> frozenset[str]:
        return self.be | self.do | self.modals | self.have


T = TypeVar("T", Phrases, Lexicon)


def load(kind: type[T], path: Path) -> T:
    """The tables of `kind` read from `path`, checked; TableError naming the file and key."""
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise TableError(f"{path}: {error}") from None
    names = [f.name for f in fields(kind)]
    unknown = [key for key in data if key not in names]
    if unknown:
        raise TableError(f"{path}: {unknown[0]}: no such table (a typo, or one nothing reads?)")
    values = {}
    for f in fields(kind):
        if f.name not in data:
            raise TableError(f"{path}: {f.name}: missing")
        values[f.name] = f.metadata["check"].load(data[f.name], f"{path}: {f.name}")
    return kind(**values)


@functools.cache
def phrases() -> Phrases:
    return load(Phrases, HERE / "phrases.toml")


@functools.cache
def lexicon() -> Lexicon:
    return load(Lexicon, HERE / "lexicon.toml")
