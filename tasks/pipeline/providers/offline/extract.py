"""The offline writer's draft from sources: what the task's pages say about its topic, in
their own words, every such sentence cited.

Given readable sources (research's numbered list), the writer does not compose: it
extracts. Each source's text is cut into sentences; a sentence is a candidate when it
reads on its own as a statement (it starts with a capital, ends with a full stop, holds
6 to 40 words, no Markdown or bracket the draft would mangle, and comes back as the very
same sentence when the draft is read again, so its claim is checked against words the
source has). Candidates are scored by what they share with the brief: the topic's words
(3 each), the keywords' (2), the primary keyword whole (3), the best matching heading's
words (1 each), and a number (1); a sentence that leans on the one before ("This",
"It", "But"...) loses one. The best are taken, best first, until the body is near the
target length; sentences that share nothing with the brief are used only when the
relevant ones fall short, and only from a page that had a relevant one. No sentence is
used twice (the same sentence on two pages is cited to the first).

The chosen sentences go under the outline's headings: a plan's sections with their
`sources` numbers take only sentences of those sources; each sentence goes to the
heading it shares most words with (the emptiest one on a tie), and within a section
keeps the order it had in its source. A heading that gets nothing is left out. Each
sentence ends with its source's number ("... in 1998 [2]."). The introduction and the
conclusion are short sentences of the writer's own that state nothing as a fact and
cite nothing. Nothing is padded: a draft from thin sources is short. All of it is
deterministic: the same brief and sources give the same draft.
"""

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from tasks.pipeline.sources import readable_sources
from tasks.pipeline.text import sentences, word_count

from .shapes import title_case
from .tables import phrases
from .voice import Voice

MIN_WORDS, MAX_WORDS = 6, 40
PARAGRAPH_WORDS = 90
PARAGRAPH_SENTENCES = 4
# Stop adding once the body is this close to its share of the target; a sentence that
# would take it further past the target than this is skipped for a shorter one.
LOW, HIGH = 0.97, 1.05
_WORD = re.compile(r"[a-z0-9]+")
_ENDS = re.compile(r"[A-Z].*[a-z0-9%)][.!]$", re.DOTALL)
_LEANS = re.compile(r"^(?:this|that|these|those|it|its|they|he|she|but|and|or|so|also)\b", re.I)
_NUMBER = re.compile(r"\d")
_CLOSED = re.compile(r"[.!?:;\"\u201d)]$")
# A line this long (characters) that stops mid-sentence was wrapped, not a heading.
WRAPPED_WIDTH = 60
_COUNTS = {2: "two", 3: "three", 4: "four", 5: "five"}
_STOP = frozenset(
    """a an the and or but of to in on at by for from with as is are was were be been it
    its this that these those how what why when who which your you our we their they
    can will do does not no more most about into over than then so if all any each
    guide intro introduction overview basics""".split()
)


class Writer(Protocol):
    voice: Voice
    target: int

    def rng(self, stage: str) -> Any: ...
    def title(self, rng: Any, sections: int) -> str: ...
    def outline_from(self, research: Any, rng: Any) -> list[tuple[str, str]]: ...


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def terms(text: str) -> set[str]:
    """The content words of `text`, lowercased and roughly singular."""
    return {_stem(w) for w in _WORD.findall(str(text).lower()) if w not in _STOP and len(w) > 1}


def cite(sentence: str, n: int) -> str:
    """The sentence with its source's number before its final full stop."""
    return f"{sentence[:-1].rstrip()} [{n}]{sentence[-1]}"


@dataclass
class Candidate:
    sentence: str
    n: int  # the source's number
    position: int  # its place in the source
    words: int
    score: int
    terms: set[str]


@dataclass
class Section:
    heading: str
    terms: set[str]
    sources: frozenset[int] | None  # a plan's source numbers for it; None: any
    chosen: list[Candidate] = field(default_factory=list)

    def words(self) -> int:
        return sum(candidate.words for candidate in self.chosen)


def _lines(text: str) -> list[str]:
    """The text's paragraphs, one a line: a line cut short of a sentence's end (plain text
    wrapped at a width) runs on into the next, a heading (short, unpunctuated) does not."""
    lines: list[str] = []
    carry = False
    for raw in str(text).splitlines():
        line = " ".join(raw.split())
        if not line:
            carry = False
            continue
        if carry and lines and (line[:1].islower() or len(lines[-1]) >= WRAPPED_WIDTH):
            lines[-1] += " " + line
        else:
            lines.append(line)
        carry = not _CLOSED.search(lines[-1])
    return lines


def source_sentences(text: str) -> list[str]:
    """The sentences of a source's text that can stand in a draft as they are."""
    found = []
    for line in _lines(text):
        for sentence, cited in sentences(line):
            if cited or sentence not in line or not _ENDS.match(sentence):
                continue
            if not MIN_WORDS <= len(sentence.split()) <= MAX_WORDS:
                continue
            # Read back as the draft will be: the same sentence, citing only its source.
            if sentences(cite(sentence, 1)) != [(sentence, [1])]:
                continue
            found.append(sentence)
    return found


def _sections(writer: Writer, research: Any, plan: Any, rng: Any) -> tuple[list[Section], str]:
    """The body sections (heading, its words, its sources) and the conclusion's heading."""
    outline = plan.get("outline") if isinstance(plan, dict) else None
    if not isinstance(outline, list) or not outline:
        outline = research.get("outline") if isinstance(research, dict) else None
    entries = [
        e for e in outline or [] if isinstance(e, dict) and str(e.get("heading", "")).strip()
    ]
    sections: list[Section] = []
    if entries:
        for entry in entries:
            heading = " ".join(str(entry["heading"]).split())[:200]
            numbers = entry.get("sources")
            allowed = None
            if isinstance(numbers, list) and numbers:
                allowed = frozenset(int(n) for n in numbers if str(n).isdigit())
            text = f"{heading} {entry.get('point') or ''}"
            sections.append(Section(heading, terms(text), allowed or None))
    else:
        for _kind, heading in writer.outline_from(research, rng):
            sections.append(Section(heading, terms(heading), None))
    banks = phrases()
    voice = writer.voice
    conclusion = rng.choice(
        banks.conclusion_headings.get(voice.task_type) or banks.conclusion_headings[voice.style]
    )
    hints = banks.conclusion_hints
    if len(sections) > 1 and any(h in sections[-1].heading.lower() for h in hints):
        conclusion = sections.pop().heading
    return sections, conclusion


def _candidates(writer: Writer, sources: list[dict[str, Any]], sections: list[Section]):
    voice = writer.voice
    brief = voice.brief
    topic = terms(brief.topic)
    keywords = set().union(*(terms(k) for k in brief.keywords)) - topic
    primary = terms(voice.pk)
    seen: set[str] = set()
    found: list[Candidate] = []
    for source in sources:
        for position, sentence in enumerate(source_sentences(source["text"])):
            key = " ".join(_WORD.findall(sentence.lower()))
            if key in seen:
                continue
            seen.add(key)
            have = terms(sentence)
            score = 3 * len(topic & have) + 2 * len(keywords & have)
            score += 3 * bool(primary and primary <= have)
            score += max((len(s.terms & have) for s in sections), default=0)
            score += bool(_NUMBER.search(sentence))
            score -= bool(_LEANS.match(sentence))
            found.append(
                Candidate(sentence, source["n"], position, len(sentence.split()), score, have)
            )
    return found


def _select(candidates: list[Candidate], budget: float) -> list[Candidate]:
    relevant = sorted(
        (c for c in candidates if c.score > 0), key=lambda c: (-c.score, c.n, c.position)
    )
    pages = {c.n for c in relevant}
    spare = [c for c in candidates if c.score <= 0 and c.n in pages and c.words >= 8]
    chosen: list[Candidate] = []
    total = 0
    for candidate in [*relevant, *spare]:
        if total >= budget * LOW:
            break
        if total + candidate.words > budget * HIGH:
            continue
        chosen.append(candidate)
        total += candidate.words
    return chosen


def _place(chosen: list[Candidate], sections: list[Section], topic: set[str]) -> None:
    """Each sentence under the heading whose own words (the topic's aside: every heading
    has those) it shares most; the rest, in their sources' order, dealt out in runs so
    the sections come out of even length and a page's sentences stay together."""
    rest: list[tuple[Candidate, list[Section]]] = []
    for candidate in chosen:
        allowed = [s for s in sections if s.sources is None or candidate.n in s.sources]
        overlap = {id(s): len((s.terms - topic) & candidate.terms) for s in allowed}
        if allowed and max(overlap.values()) > 0:
            best = max(allowed, key=lambda s: (overlap[id(s)], -sections.index(s)))
            best.chosen.append(candidate)
        elif allowed:
            rest.append((candidate, allowed))
    rest.sort(key=lambda pair: (pair[0].n, pair[0].position))
    total = sum(c.words for c in chosen)
    share = total / len(sections)
    at = 0
    for candidate, allowed in rest:
        while at < len(sections) - 1 and sections[at].words() >= share:
            at += 1
        home = sections[at] if sections[at] in allowed else None
        if home is None:  # a plan keeps this source out of the current section
            home = min(allowed, key=lambda s: (s.words(), sections.index(s)))
        home.chosen.append(candidate)
    for section in sections:
        section.chosen.sort(key=lambda c: (c.n, c.position))


def _paragraphs(chosen: list[Candidate]) -> list[str]:
    """The section's sentences, cited, in paragraphs of even size: at most about
    PARAGRAPH_WORDS words and PARAGRAPH_SENTENCES sentences each."""
    total = sum(c.words for c in chosen)
    count = max(-(-total // PARAGRAPH_WORDS), -(-len(chosen) // PARAGRAPH_SENTENCES), 1)
    size = -(-len(chosen) // count)
    return [
        " ".join(cite(c.sentence, c.n) for c in chosen[i : i + size])
        for i in range(0, len(chosen), size)
    ]


def _intro(voice: Voice, count: int) -> list[str]:
    topic = voice.topic
    about = topic if voice.pk.lower() in topic.lower() else f"{topic} and {voice.pk}"
    # In words: a number in a sentence that cites nothing would read as an uncited fact.
    pages = "the source" if count == 1 else f"{_COUNTS.get(count, 'several')} sources"
    return [
        f"This {voice.piece} gathers what {pages} say about {about}, in their own words.",
        "The number after each statement names the source it comes from, so every one of "
        "them can be checked.",
    ]


def _closing(voice: Voice) -> list[str]:
    return [
        f"Those are the points the sources make about {voice.topic}.",
        "Where a detail matters to you, read the source it comes from in full.",
    ]


def extractive_draft(writer: Writer, research: Any, plan: Any = None) -> str | None:
    """The draft as Markdown (a `# ` title, an introduction, `## ` sections of cited
    source sentences, a conclusion), or None when the sources hold no sentence fit to
    extract (the writer then writes as it does without sources)."""
    sources = readable_sources(research)
    if not sources:
        return None
    rng = writer.rng("draft")
    voice = writer.voice
    sections, conclusion = _sections(writer, research, plan, rng)
    if not sections:
        sections = [Section(title_case(voice.topic), terms(voice.topic), None)]
    usable = {n for s in sections for n in (s.sources or {src["n"] for src in sources})}
    candidates = [c for c in _candidates(writer, sources, sections) if c.n in usable]
    intro, closing = _intro(voice, len(sources)), _closing(voice)
    frame = word_count(" ".join([*intro, *closing, conclusion, *(s.heading for s in sections)]))
    chosen = _select(candidates, max(0, writer.target - frame))
    if not chosen:
        return None
    _place(chosen, sections, terms(voice.brief.topic))
    body = [s for s in sections if s.chosen]
    title = writer.title(rng, len(body))
    lines = [f"# {title}", "", " ".join(intro), ""]
    for section in body:
        lines += [f"## {section.heading}", ""]
        for paragraph in _paragraphs(section.chosen):
            lines += [paragraph, ""]
    lines += [f"## {conclusion}", "", " ".join(closing)]
    return "\n".join(lines).rstrip() + "\n"
