"""What the offline reviewer measures in an article, and the Markdown outline the refiner edits.

`parse` splits Markdown into a title and sections of blank-line separated blocks; `measure`
takes the numbers a reviewer needs from that outline and a brief: length against the target,
keyword coverage, structure, sentence and paragraph lengths, readability, repetition.
"""

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

from tasks.pipeline.text import strip_markdown, word_count, words

from .shapes import is_plural
from .tables import phrases
from .voice import Voice

LONG_SENTENCE = 30  # words
GIANT_PARAGRAPH = 150  # words
APPENDIX = re.compile(r"\b(?:further reading|references|sources|related reading|read next)\b", re.I)
EXAMPLE_HINTS = re.compile(
    r"\b(?:for example|for instance|consider|imagine|picture|such as|case stud|in one case)\b",
    re.IGNORECASE,
)
PLACEHOLDERS = re.compile(r"\{[a-z_]+\}|\[insert[^\]]*\]|\bTODO\b|\blorem ipsum\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9#])")
_LIST_LINE = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+")
_STRUCTURAL = re.compile(r"^\s*(?:```|~~~|>|\||#)")


@dataclass
class Section:
    heading: str | None  # None for the introduction
    blocks: list[str] = field(default_factory=list)  # raw Markdown, one entry per block

    def prose(self) -> list[str]:
        return [block for block in self.blocks if is_prose(block)]


def is_prose(block: str) -> bool:
    first = block.lstrip("\n").split("\n", 1)[0]
    return bool(first.strip()) and not _LIST_LINE.match(first) and not _STRUCTURAL.match(first)


def is_appendix(heading: str | None) -> bool:
    return bool(heading) and bool(APPENDIX.search(heading or ""))


def is_conclusion(heading: str | None) -> bool:
    hints = (*phrases().conclusion_hints, "summary", "epilogue", "next time", "closing")
    hints += ("story goes next",)
    return bool(heading) and any(h in heading.lower() for h in hints)


def parse(markdown: str, title: str = "") -> tuple[str, list[Section]]:
    """(title, sections): the first section is the introduction (heading None), possibly empty.

    A leading `# ` line is the title when none is given; `## ` starts a section; deeper headings,
    lists, code and quotes stay inside their section as blocks of their own."""
    lines = markdown.strip("\n").splitlines()
    if lines and lines[0].startswith("# "):
        title = title or lines[0][2:].strip()
        lines = lines[1:]
    sections = [Section(None)]
    current: list[str] = []
    fenced = False

    def flush() -> None:
        if any(line.strip() for line in current):
            sections[-1].blocks.append("\n".join(current).strip("\n"))
        current.clear()

    for line in lines:
        if re.match(r"^\s*(```|~~~)", line):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            flush()
            sections.append(Section(line[3:].strip()))
        elif not fenced and not line.strip():
            flush()
        else:
            current.append(line)
    flush()
    return title.strip(), sections


def render(title: str, sections: list[Section]) -> str:
    """The outline back as Markdown, starting with the `# ` title line."""
    out = [f"# {title}", ""]
    for section in sections:
        if section.heading is not None:
            out += [f"## {section.heading}", ""]
        for block in section.blocks:
            out += [block, ""]
    return "\n".join(out).rstrip() + "\n"


def split_sentences(text: str) -> list[str]:
    """The sentences of a paragraph as written (Markdown and all)."""
    return [s for s in _SENTENCE_END.split(" ".join(text.split())) if words(s)]


def sentences_of(paragraph: str) -> list[str]:
    """The sentences of a paragraph as a reader sees them."""
    return split_sentences(strip_markdown(paragraph))


def _syllables(word: str) -> int:
    word = re.sub(r"[^a-z]", "", word.lower())
    if not word:
        return 0
    count = len(re.findall(r"[aeiouy]+", word))
    if word.endswith("e") and not word.endswith(("le", "ee")) and count > 1:
        count -= 1
    return max(1, count)


def _stem(word: str) -> str:
    word = word.lower()
    for suffix in ("ing", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def mentions(text: str, term: str) -> int:
    """How often text names the term; a plural or singular form counts too."""
    base = term.lower().strip()
    if not base:
        return 0
    if is_plural(base.split()):
        base = re.sub(r"(?:es|s)$", "", base)
    pattern = r"(?<!\w)" + re.escape(base) + r"(?:s|es)?(?!\w)"
    return len(re.findall(pattern, text.lower()))


def covers(text: str, phrase: str) -> bool:
    """Whether every content word of phrase appears in text, allowing other word forms
    ("Adopt Continuous Delivery" covers "adopting continuous delivery")."""
    wanted = {_stem(w) for w in re.findall(r"[\w'-]+", phrase) if len(w) > 3}
    present = {_stem(w) for w in re.findall(r"[\w'-]+", text)}
    return bool(wanted) and wanted <= present


@dataclass
class Measures:
    title: str
    target: int
    words: int
    intro_sentences: int
    body_headings: list[str]  # `## ` sections other than the conclusion and further reading
    conclusion: str | None
    terms: list[str]
    missing: list[str]
    pk: str
    pk_count: int
    pk_in_title: bool
    pk_in_heading: bool
    pk_in_intro: bool
    topic_named: bool
    sentence_lengths: list[int]
    long_sentences: list[int]
    paragraph_lengths: list[int]
    giant_paragraphs: list[int]
    repeated: list[str]  # sentences that appear more than twice
    duplicates: int  # extra copies of sentences that appear more than once
    flesch: float
    lists: int
    examples: int
    addresses_reader: bool
    placeholders: list[str]
    duplicate_headings: list[str]
    promised_items: int  # the number in a list topic's title, 0 otherwise
    delivered_items: int

    @property
    def sections_needed(self) -> int:
        return 3 if self.target >= 300 else 1

    @property
    def average_sentence(self) -> float:
        return statistics.fmean(self.sentence_lengths) if self.sentence_lengths else 0.0


def measure(voice: Voice, target: int, title: str, sections: list[Section]) -> Measures:
    intro, rest = sections[0], sections[1:]
    body = [s for s in rest if not is_appendix(s.heading)]
    conclusion = body[-1].heading if body and is_conclusion(body[-1].heading) else None
    body_headings = [s.heading or "" for s in (body[:-1] if conclusion else body)]
    markdown = "\n\n".join(
        "\n\n".join(([f"## {s.heading}"] if s.heading else []) + s.blocks) for s in sections
    )
    plain = " ".join(strip_markdown(markdown).split())
    paragraphs = [" ".join(strip_markdown(p).split()) for s in sections for p in s.prose()]
    sentences = [sentence for p in paragraphs for sentence in sentences_of(p)]
    lengths = [len(words(s)) for s in sentences]
    counts = Counter(s for s in sentences if len(s) > 20)
    all_words = words(plain)
    syllables = sum(_syllables(w) for w in all_words)
    flesch = (
        206.835 - 1.015 * len(all_words) / len(sentences) - 84.6 * syllables / len(all_words)
        if sentences and all_words
        else 0.0
    )
    intro_text = " ".join(strip_markdown(p) for p in intro.prose())
    headings = [s.heading or "" for s in rest]
    pk = voice.pk
    numbered = [h for h in body_headings if re.match(r"\d+[.)]\s", h)]
    if not numbered:
        lines = [line for s in body for block in s.blocks for line in block.splitlines()]
        numbered = [line for line in lines if re.match(r"\d+\.\s", line)]
    return Measures(
        title=title,
        target=target,
        words=word_count(markdown),
        intro_sentences=len(sentences_of(intro_text)) if intro_text else 0,
        body_headings=body_headings,
        conclusion=conclusion,
        terms=list(voice.terms),
        missing=[t for t in voice.terms if not mentions(f"{title} {plain}", t)],
        pk=pk,
        pk_count=mentions(plain, pk),
        pk_in_title=covers(title, pk),
        pk_in_heading=any(covers(h, pk) for h in headings),
        pk_in_intro=bool(mentions(intro_text, pk)),
        topic_named=covers(plain, voice.shape.core) or mentions(plain, voice.topic) > 0,
        sentence_lengths=lengths,
        long_sentences=sorted((n for n in lengths if n > LONG_SENTENCE), reverse=True),
        paragraph_lengths=[len(words(p)) for p in paragraphs],
        giant_paragraphs=sorted(
            (n for p in paragraphs if (n := len(words(p))) > GIANT_PARAGRAPH), reverse=True
        ),
        repeated=[s for s, n in counts.items() if n > 2],
        duplicates=sum(n - 1 for n in counts.values() if n > 1),
        flesch=flesch,
        lists=sum(1 for s in sections for b in s.blocks if _LIST_LINE.match(b)),
        examples=len(EXAMPLE_HINTS.findall(plain)),
        addresses_reader=bool(re.search(r"\b(?:you|your)\b|\?", plain, re.IGNORECASE)),
        placeholders=sorted(set(PLACEHOLDERS.findall(f"{title}\n{markdown}"))),
        duplicate_headings=[h for h, n in Counter(h.lower() for h in headings).items() if n > 1],
        promised_items=voice.shape.count,
        delivered_items=len(numbered),
    )
