"""The offline refine stage: rewrites a draft so that what the review measured is fixed.

The draft is parsed into its outline (`measure.parse`) and measured again, so the fixes follow
the numbers rather than the critique's wording; keywords the critique names as missing are
added as well. In order: overlong sentences are split, repeated ones and placeholders go,
missing structure is added (an introduction, body sections up to the number needed, a
conclusion, the items a list topic promises), walls of text are broken into paragraphs,
missing keywords get sentences of their own, and finally the length is brought onto the target
by adding sentences from the phrase banks or removing the least needed ones. A draft with no
measured defect comes back unchanged.

A draft that cites its sources ("[1]", the writer's extractive draft or a model's) is checked
claim by claim against them, so the refiner keeps every sentence as written: it only drops
repeated sentences and breaks walls of text into paragraphs. Splitting a cited sentence would
leave half of it uncited, and the phrase banks' sentences would be filler beside checkable
facts; a draft short of its target stays short rather than padded.
"""

import json
import random
import re
from typing import Any, Protocol

from tasks.pipeline.text import CITATION, strip_markdown, word_count, words

from .measure import (
    LONG_SENTENCE,
    PLACEHOLDERS,
    Section,
    is_appendix,
    is_conclusion,
    is_prose,
    measure,
    mentions,
    parse,
    render,
    split_sentences,
)
from .review import AVERAGE_SENTENCE, issues, long_sentences_flagged
from .tables import phrases
from .voice import Sentences, Voice, classify

PARAGRAPH_WORDS = 90  # a refined paragraph stays under this where it can
SENTENCES_PER_PARAGRAPH = 4
LENGTH_BAND = 0.04  # the refiner aims within 4% of the target
_SPLITS = (
    (re.compile(r";\s+"), ""),
    (re.compile(r",\s+but\s+"), "But "),
    (re.compile(r",\s+so\s+"), "So "),
    (re.compile(r",\s+and\s+(?=(?:it|this|that|they|the|a|an|each|every|most|many)\b)"), ""),
    (re.compile(r",\s+(?:because|since)\s+"), "That is because "),
    (re.compile(r",\s+which\s+"), "This "),
    (re.compile(r"\s+[—–]\s+"), ""),
    (re.compile(r":\s+(?=[a-z])"), ""),
)


class Planner(Protocol):
    """What the refiner needs from the writer: its voice and target, and how it plans."""

    voice: Voice
    target: int

    def rng(self, stage: str) -> random.Random: ...
    def plan(self, rng: random.Random) -> list[tuple[str, str]]: ...
    def section_plan(self, rng: random.Random) -> list[tuple[str, str]]: ...
    def list_items(self) -> list[tuple[str, str]]: ...
    def opening(self, sentences: Sentences, rng: random.Random, *, compact: bool) -> list[str]: ...


def _count(text: str) -> int:
    return len(words(strip_markdown(text)))


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def split_long(sentence: str, limit: int) -> list[str]:
    """Split a sentence at a clause boundary near its middle until each part is within limit
    (or no boundary leaves both sides a readable length)."""
    if _count(sentence) <= limit:
        return [sentence]
    total = _count(sentence)
    best: tuple[float, int, int, str] | None = None
    for pattern, opener in _SPLITS:
        for match in pattern.finditer(sentence):
            left, right = sentence[: match.start()], sentence[match.end() :]
            if _count(left) < 6 or _count(right) < 6:
                continue
            balance = abs(_count(left) - total / 2)
            if best is None or balance < best[0]:
                best = (balance, match.start(), match.end(), opener)
    if best is None:
        return [sentence]
    _, start, end, opener = best
    left = sentence[:start].rstrip(" ,;:") + "."
    right = sentence[end:]
    right = opener + right if opener else _capitalise(right)
    return split_long(left, limit) + split_long(right, limit)


class Refiner:
    """Fixes one draft for one brief; deterministic for a given brief and draft."""

    def __init__(self, writer: Planner) -> None:
        self.writer = writer
        self.voice = writer.voice
        self.target = writer.target
        self.rng: random.Random = writer.rng("refine")
        self.sentences = Sentences(self.voice, self.rng)

    def refine(self, draft: Any, critique: Any) -> str:
        draft = draft if isinstance(draft, dict) else {}
        title, sections = parse(str(draft.get("markdown") or ""), str(draft.get("title") or ""))
        title = title or self.voice.title_topic
        m = measure(self.voice, self.target, title, sections)
        missing = list(dict.fromkeys([*m.missing, *self._named_missing(critique, sections)]))
        if not issues(m) and not missing:
            return render(title, sections)
        if _cites(sections):
            self._drop_repeats(sections)
            self._break_walls(sections)
            return render(title, sections)
        if long_sentences_flagged(m) or m.average_sentence > AVERAGE_SENTENCE:
            limit = LONG_SENTENCE if m.average_sentence <= AVERAGE_SENTENCE else 22
            self._split_sentences(sections, limit)
        self._drop_repeats(sections)  # after splitting, which can reveal more of them
        for section in sections:  # new sentences must not repeat the draft's own
            for block in section.prose():
                for sentence in split_sentences(block):
                    self.sentences.used[sentence] += 1
        sections = self._structure(sections, m)
        self._break_walls(sections)
        self._add_keywords(sections, missing, title)
        self._fit_length(sections, title)
        return render(title, sections)

    # Reading the critique --------------------------------------------------------------------

    def _named_missing(self, critique: Any, sections: list[Section]) -> list[str]:
        """Keywords a critique (possibly another model's) says are missing and really are."""
        if isinstance(critique, str):  # the review's raw answer rather than the parsed one
            try:
                critique = json.loads(critique)
            except ValueError:
                critique = {"issues": [critique]}
        found = critique.get("issues") if isinstance(critique, dict) else None
        text = " ".join(strip_markdown(b) for s in sections for b in s.blocks).lower()
        named: list[str] = []
        for issue in found if isinstance(found, list) else ():
            issue = str(issue)
            if "keyword" not in issue.lower() or "missing" not in issue.lower():
                continue
            quoted = re.findall(r"['\"‘“]([^'\"’”]{2,60})['\"’”]", issue)
            listed = re.split(r",\s*|\s+and\s+", issue.partition(":")[2].strip(" .")) * (not quoted)
            named += [t.strip() for t in (*quoted, *listed) if t.strip()]
        return [t for t in named if t.lower() not in text and len(t.split()) <= 6]

    # Sentence-level fixes --------------------------------------------------------------------

    @staticmethod
    def _edit_prose(sections: list[Section], edit: Any) -> None:
        for section in sections:
            blocks = []
            for block in section.blocks:
                if section.heading is not None and is_appendix(section.heading):
                    blocks.append(block)
                    continue
                if is_prose(block):
                    block = " ".join(edit(split_sentences(block)))
                if block.strip():
                    blocks.append(block)
            section.blocks = blocks

    def _drop_repeats(self, sections: list[Section]) -> None:
        seen: set[str] = set()

        def edit(sentences: list[str]) -> list[str]:
            kept = []
            for sentence in sentences:
                key = " ".join(strip_markdown(sentence).split())
                if PLACEHOLDERS.search(sentence) or (len(key) > 20 and key in seen):
                    continue
                seen.add(key)
                kept.append(sentence)
            return kept

        self._edit_prose(sections, edit)

    def _split_sentences(self, sections: list[Section], limit: int) -> None:
        self._edit_prose(sections, lambda ss: [part for s in ss for part in split_long(s, limit)])

    def _break_walls(self, sections: list[Section]) -> None:
        for section in sections:
            blocks: list[str] = []
            for block in section.blocks:
                if section.prose() and block in section.prose() and _count(block) > 120:
                    blocks += self._chunk(split_sentences(block))
                else:
                    blocks.append(block)
            section.blocks = blocks

    @staticmethod
    def _chunk(sentences: list[str]) -> list[str]:
        """Paragraphs of at most four sentences and about 90 words, evenly sized."""
        total = sum(_count(s) for s in sentences)
        count = max(-(-total // PARAGRAPH_WORDS), -(-len(sentences) // SENTENCES_PER_PARAGRAPH), 1)
        size = -(-len(sentences) // count)
        return [" ".join(sentences[i : i + size]) for i in range(0, len(sentences), size)]

    # Structure -------------------------------------------------------------------------------

    def _structure(self, sections: list[Section], m: Any) -> list[Section]:
        intro, rest = sections[0], sections[1:]
        appendix = [s for s in rest if is_appendix(s.heading)]
        body = [s for s in rest if not is_appendix(s.heading)]
        conclusion = body.pop() if body and is_conclusion(body[-1].heading) else None
        if not intro.prose():
            intro.blocks.insert(0, " ".join(self._intro_lines()))
        elif not body and len(split_sentences(" ".join(intro.prose()))) > 4:
            body = self._sections_from_intro(intro, m.sections_needed)
        body = self._renumber(body)
        used = {re.sub(r"^\d+\.\s+", "", s.heading or "").lower() for s in body}
        for kind, heading in self._plan():
            if len(body) >= m.sections_needed:
                break
            if heading.lower() not in used:
                body.append(Section(self._numbered(heading, body), [self._paragraph(kind, 3)]))
                used.add(heading.lower())
        body = self._complete_list(body)
        if conclusion is None:
            conclusion = Section(self._conclusion_heading(), [" ".join(self._closing_lines())])
        return [intro, *body, conclusion, *appendix]

    def _intro_lines(self) -> list[str]:
        lines = self.writer.opening(self.sentences, self.rng, compact=False)
        return lines or [self.sentences.lead("intro"), self.sentences.make("why")]

    def _closing_lines(self) -> list[str]:
        call = self.sentences.fill(self.rng.choice(phrases().calls_to_action[self.voice.tone]))
        return [self.sentences.lead("conclusion"), call]

    def _conclusion_heading(self) -> str:
        voice = self.voice
        headings = phrases().conclusion_headings
        options = headings.get(voice.task_type) or headings[voice.style]
        return self.rng.choice(options)

    def _sections_from_intro(self, intro: Section, needed: int) -> list[Section]:
        """A draft with no sections: its first sentences stay as the introduction and the
        rest is shared out over sections from the plan, in order."""
        sentences = [s for block in intro.prose() for s in split_sentences(block)]
        others = [b for b in intro.blocks if b not in intro.prose()]
        keep = min(3, max(1, len(sentences) // (needed + 2)))
        intro.blocks = [" ".join(sentences[:keep])]
        plan = self._plan()[:needed]
        rest = sentences[keep:]
        size = -(-len(rest) // len(plan))
        body: list[Section] = []
        for index, (kind, heading) in enumerate(plan):
            share = rest[index * size : (index + 1) * size]
            lead = [] if len(share) >= 2 else [self.sentences.lead(kind)]
            body.append(Section(self._numbered(heading, body), [" ".join(lead + share)]))
        body[-1].blocks += others
        return body

    def _plan(self) -> list[tuple[str, str]]:
        return self.writer.plan(self.writer.rng("refine-plan"))

    def _numbered(self, heading: str, body: list[Section]) -> str:
        """List topics number their sections: the next number after those in body."""
        if self.voice.shape.kind != "list" or self._list_block(body) is not None:
            return heading
        count = sum(1 for s in body if re.match(r"\d+\.\s", s.heading or ""))
        return f"{count + 1}. {heading}"

    @staticmethod
    def _list_block(body: list[Section]) -> tuple[Section, int] | None:
        """The numbered list block that holds a list topic's items, if the draft has one."""
        for section in body:
            for index, block in enumerate(section.blocks):
                if re.match(r"1\.\s", block):
                    return section, index
        return None

    def _renumber(self, body: list[Section]) -> list[Section]:
        numbered = [s for s in body if re.match(r"\d+[.)]\s", s.heading or "")]
        for number, section in enumerate(numbered, start=1):
            section.heading = re.sub(r"^\d+[.)]\s+", f"{number}. ", section.heading or "")
        return body

    def _complete_list(self, body: list[Section]) -> list[Section]:
        """Add the items a list topic promises but the draft does not number."""
        promised = self.voice.shape.count
        numbered = [s for s in body if re.match(r"\d+\.\s", s.heading or "")]
        listed = self._list_block(body)
        if listed and not numbered:
            section, index = listed
            lines = section.blocks[index].splitlines()
            items = [re.sub(r"^\d+\.\s+", "", line) for line in lines]
            spare = [h for _, h in self._spare_items(set(map(str.lower, items)))]
            items += spare[: max(0, promised - len(items))]
            section.blocks[index] = "\n".join(f"{n}. {t}" for n, t in enumerate(items, 1))
            return body
        if not promised or not numbered or len(numbered) >= promised:
            return body
        present = {re.sub(r"^\d+\.\s+", "", s.heading or "").lower() for s in numbered}
        spare = self._spare_items(present)
        at = body.index(numbered[-1]) + 1
        for number in range(len(numbered) + 1, promised + 1):
            kind, heading = spare.pop(0)
            body.insert(at, Section(f"{number}. {heading}", [self._paragraph(kind, 3)]))
            at += 1
        return body

    def _spare_items(self, present: set[str]) -> list[tuple[str, str]]:
        bank = [*self.writer.list_items(), *phrases().list_items[self.voice.shape.items]]
        return [item for item in dict.fromkeys(bank) if item[1].lower() not in present]

    def _paragraph(self, kind: str, count: int) -> str:
        lines = [self.sentences.lead(kind)]
        while len(lines) < count:
            lines.append(self.sentences.fit(kind, 28) or self.sentences.make(kind))
        return " ".join(lines)

    # Keywords and length ---------------------------------------------------------------------

    def _add_keywords(self, sections: list[Section], missing: list[str], title: str) -> None:
        m = measure(self.voice, self.target, title, sections)
        pk = self.voice.pk
        body = [s for s in sections[1:-1] if not is_appendix(s.heading)] or sections[:1]
        for index, term in enumerate(missing):
            line = self.sentences.keyword_lines([term], separate=True)[0]
            if term == pk and not m.pk_in_title and not m.pk_in_heading:
                self._append(sections[0], line)  # the introduction, where search looks
            else:
                self._append(body[index % len(body)], line)
        if pk not in missing and not (m.pk_in_title or m.pk_in_heading or m.pk_in_intro):
            self._append(sections[0], self.sentences.keyword_lines([pk], separate=True)[0])

    @staticmethod
    def _append(section: Section, sentence: str) -> None:
        prose = section.prose()
        last = prose[-1] if prose else None
        if last is not None and (
            len(split_sentences(last)) < SENTENCES_PER_PARAGRAPH
            and _count(last) + _count(sentence) <= PARAGRAPH_WORDS
        ):
            section.blocks[section.blocks.index(last)] = f"{last} {sentence}"
        elif last is not None:
            section.blocks.insert(section.blocks.index(last) + 1, sentence)
        else:
            section.blocks.insert(0, sentence)

    def _fit_length(self, sections: list[Section], title: str) -> None:
        low, high = self.target * (1 - LENGTH_BAND), self.target * (1 + LENGTH_BAND)
        total = self._total(title, sections)
        if total < low:
            self._grow(sections, total, low)
            return
        for _ in range(len(sections)):
            if total <= high:
                return
            total = self._trim(sections, total, high)
            if total > high and self._drop_section(sections):
                # A dropped section may have held a keyword's only mention.
                m = measure(self.voice, self.target, title, sections)
                self._add_keywords(sections, m.missing, title)
                total = self._total(title, sections)

    @staticmethod
    def _total(title: str, sections: list[Section]) -> int:
        return word_count(render(title, sections).split("\n", 1)[1])

    def _grow(self, sections: list[Section], total: int, low: float) -> None:
        """Add sentences round the body sections, and whole sections from the plan once the
        existing ones reach a good length, until the draft is long enough."""
        conclusion = max(i for i, s in enumerate(sections) if not is_appendix(s.heading))
        present = {re.sub(r"^\d+\.\s+", "", s.heading or "").lower() for s in sections}
        plan = self.writer.section_plan(self.writer.rng("refine-grow"))
        unused = [(kind, heading) for kind, heading in plan if heading.lower() not in present]
        turn = 0
        while total < low and turn < 600:
            body = sections[1:conclusion]
            if unused and body and total / len(body) > 350:
                kind, heading = unused.pop(0)
                paragraph = self._paragraph(kind, 3)
                sections.insert(conclusion, Section(heading, [paragraph]))
                conclusion += 1
                total += _count(paragraph) + _count(heading)
                continue
            targets = [*body, sections[conclusion]]
            section = targets[turn % len(targets)]
            kind = "conclusion" if section is targets[-1] else classify(section.heading or "")
            gap = round(self.target - total)
            sentence = self.sentences.fit(kind, min(28, gap)) if gap >= 7 else None
            sentence = sentence or self.sentences.micro(gap)
            if sentence is None:
                return
            self._append(section, sentence)
            total += _count(sentence)
            turn += 1

    def _trim(self, sections: list[Section], total: int, high: float) -> int:
        """Remove the sentences the draft can best spare until it is within the band: from the
        longest sections first, never a section's opening sentence and never the last mention
        of a keyword. Returns the new total."""
        terms = list(self.voice.terms)
        pk = self.voice.pk
        rows: list[list[Any]] = []  # [section, block, sentence, words, terms, removed]
        for si, section in enumerate(sections):
            if is_appendix(section.heading):
                continue
            for bi, block in enumerate(section.blocks):
                if not is_prose(block):
                    continue
                for sentence in split_sentences(block):
                    named = [t for t in terms if mentions(strip_markdown(sentence), t)]
                    rows.append([si, bi, sentence, _count(sentence), named, False])
        left = {t: sum(t in row[4] for row in rows) for t in terms}
        weight = {si: 0 for si in range(len(sections))}
        for row in rows:
            weight[row[0]] += row[3]
        first = {}
        for index, row in enumerate(rows):
            first.setdefault(row[0], index)
        while total > high:
            best = None
            for index, row in enumerate(rows):
                if row[5] or first[row[0]] == index or any(left[t] <= 1 for t in row[4]):
                    continue
                if row[0] == 0 and pk in row[4]:
                    continue  # the introduction's mention of the primary keyword is for search
                key = (-weight[row[0]], abs(row[3] - (total - high)), index)
                best = key if best is None or key < best else best
            if best is None:
                break
            row = rows[best[2]]
            row[5] = True
            total -= row[3]
            weight[row[0]] -= row[3]
            for term in row[4]:
                left[term] -= 1
        for (si, bi), group in _group(rows):
            kept = [row[2] for row in group if not row[5]]
            sections[si].blocks[bi] = " ".join(kept)
        for section in sections:
            section.blocks = [block for block in section.blocks if block.strip()]
        return total

    def _drop_section(self, sections: list[Section]) -> bool:
        """Drop the last body section a very long draft can lose: never the introduction, the
        conclusion, further reading, a numbered list item, or below the sections needed."""
        body = [i for i, s in enumerate(sections[:-1]) if i and not is_appendix(s.heading)]
        conclusion = max(i for i, s in enumerate(sections) if not is_appendix(s.heading))
        body = [i for i in body if i != conclusion]
        needed = 3 if self.target >= 300 else 1
        droppable = [i for i in body if not re.match(r"\d+\.\s", sections[i].heading or "")]
        if len(body) <= needed or not droppable:
            return False
        del sections[droppable[-1]]
        return True


def _cites(sections: list[Section]) -> bool:
    """Whether the draft's prose cites a numbered source."""
    return any(CITATION.search(block) for section in sections for block in section.prose())


def _group(rows: list[list[Any]]) -> list[tuple[tuple[int, int], list[list[Any]]]]:
    groups: dict[tuple[int, int], list[list[Any]]] = {}
    for row in rows:
        groups.setdefault((row[0], row[1]), []).append(row)
    return list(groups.items())


def refine(writer: Planner, draft: Any, critique: Any) -> str:
    """The refine stage's answer: the draft as Markdown with a `# ` title line, its measured
    defects (and keywords the critique names as missing) fixed; unchanged if it has none."""
    return Refiner(writer).refine(draft, critique)
