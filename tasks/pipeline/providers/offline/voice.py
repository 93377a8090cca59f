"""The offline writer's voice: brief-derived strings and a sentence drawer over the phrase banks.

`Voice` holds what every template needs (topic, keywords, audience, tone); `Sentences` fills
templates from `phrases.toml` with a seeded `random.Random`, avoiding repeats within one article.
"""

import functools
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from tasks.pipeline.text import word_count

from ..base import Brief
from .shapes import Shape, shape_of, title_case
from .tables import STYLES, TASK_TYPES, TONES, phrases


def join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def clip(text: str, limit: int) -> str:
    """Shorten at a word boundary, marking the cut with an ellipsis, never exceeding limit."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:.-–—")
    return cut + "…"


def _contract(sentence: str) -> str:
    for full, short in phrases().contractions:
        sentence = re.sub(rf"\b{full}\b", short, sentence)
        capital = full[0].upper() + full[1:]
        sentence = re.sub(rf"\b{capital}\b", short[0].upper() + short[1:], sentence)
    return sentence


@functools.lru_cache(maxsize=16384)
def wc(sentence: str) -> int:
    # Sentences are re-measured many times while fitting an article to length.
    return word_count(sentence)


def classify(heading: str) -> str:
    lowered = heading.lower()
    for kind, hints in phrases().kind_hints:
        if any(hint in lowered for hint in hints):
            return kind
    return "general"


@dataclass(frozen=True)
class Voice:
    """Brief-derived strings every template needs, computed once per call."""

    brief: Brief
    shape: Shape
    topic: str  # the topic as a noun phrase for sentences ("adopting continuous delivery")
    noun: str  # the short subject for {x} slots ("mistakes with {x}"): "continuous delivery"
    subject: str  # a form that takes a singular verb ({s} is ...)
    title_topic: str  # the topic as a title ("How Small Teams Can Adopt Continuous Delivery")
    heading_topic: str  # the short subject for headings ("Continuous Delivery")
    pk: str
    terms: tuple[str, ...]  # primary keyword plus keywords, each to appear in the body
    aud: str
    tone: str
    style: str
    task_type: str
    piece: str

    @classmethod
    def of(cls, brief: Brief) -> "Voice":
        shape = shape_of(brief.topic, tuple(brief.keywords) + (brief.primary_keyword,))
        topic = shape.phrase
        pk = " ".join(brief.primary_keyword.split()) or (
            brief.keywords[0] if brief.keywords else topic
        )
        terms: list[str] = []
        for term in (pk, *brief.keywords):
            if term.lower() != topic.lower() and term.lower() not in (t.lower() for t in terms):
                terms.append(term)
        tone = brief.tone if brief.tone in TONES else "professional"
        style = brief.style if brief.style in STYLES else "educational"
        task_type = brief.task_type if brief.task_type in TASK_TYPES else "blog_post"
        piece = {"social_post": "post", "newsletter": "issue"}.get(
            task_type, "guide" if style in ("educational", "technical") else "article"
        )
        return cls(
            brief=brief,
            shape=shape,
            topic=topic,
            # "when learning {x}" reads badly with a gerund ("learning adopting ..."), and an
            # article ("the field of a website") does too, so {x} gets the bare subject.
            noun=topic if re.match(r"(?:a|an|the) ", shape.core) else shape.core,
            # Templates with {s} put a singular verb after it ("{s} is about ...").
            subject=(
                topic
                if not shape.plural
                else shape.core
                if not shape.core_plural
                else f"work on {topic}"
            ),
            title_topic=shape.title,
            heading_topic=title_case(shape.core),
            pk=pk,
            terms=tuple(terms),
            aud=" ".join(brief.target_audience.split()).rstrip(".") or "practitioners",
            tone=tone,
            style=style,
            task_type=task_type,
            piece=piece,
        )


class Proposal(NamedTuple):
    sentence: str
    clause: str  # the sentence without its connector
    template: str
    connector: str


class Sentences:
    """Draws filled-in sentences from the phrase banks, avoiding repeats within one article."""

    def __init__(self, voice: Voice, rng: random.Random) -> None:
        self.voice = voice
        self.rng = rng
        self.used: Counter[str] = Counter()
        self.templates_used: Counter[str] = Counter()
        self.recent_connectors: list[str] = []
        self.micro_used: set[str] = set()

    def fill(self, template: str, *, x: str | None = None, kw: str | None = None) -> str:
        voice = self.voice
        text = template.format(
            topic=voice.topic,
            T=voice.heading_topic,
            pk=voice.pk,
            kw=kw or self.term(),
            kws=join(voice.terms),
            x=x or self._x(),
            s=(voice.subject if x in (voice.topic, voice.noun) else x) if x else self._subject(),
            aud=voice.aud,
            piece=voice.piece,
        )
        return self.finish(text)

    def finish(self, text: str) -> str:
        text = " ".join(text.split())
        text = text[:1].upper() + text[1:]
        return _contract(text) if self.voice.tone == "casual" else text

    def term(self) -> str:
        return self.rng.choice(self.voice.terms or (self.voice.topic,))

    def _x(self) -> str:
        roll = self.rng.random()
        if roll < 0.3 or not self.voice.terms:
            return self.voice.noun
        if roll < 0.5:
            return self.voice.pk
        if roll < 0.88:
            return self.term()
        # An occasional plain noun phrase keeps the topic from being named in every sentence.
        return self.rng.choice(phrases().stand_ins)

    def _subject(self) -> str:
        # Keywords are often plural ("spot instances"), so templates whose verb agrees with the
        # placeholder ({s}) only receive the topic or a singular stand-in.
        stand_ins = phrases().stand_ins
        return self.voice.subject if self.rng.random() < 0.8 else self.rng.choice(stand_ins)

    def _template(self, kind: str) -> tuple[str, bool]:
        """A template for kind and whether it may take a leading connector."""
        banks = phrases()
        voice = self.voice
        roll = self.rng.random()
        bank = banks.kind_lines.get(kind, ())
        if kind == "story" and voice.style != "narrative":
            bank = banks.kind_lines["examples"]
        if bank and roll < 0.38:
            return self.rng.choice(bank), True
        if roll < 0.58:
            return self.rng.choice(banks.general), True
        if roll < 0.76:
            subject = self.rng.choice(banks.subjects)
            return f"{subject} {self.rng.choice(banks.predicates)}", True
        if roll < 0.88:
            return self.rng.choice(banks.tone_lines[voice.tone]), False
        return self.rng.choice(banks.style_lines[voice.style]), False

    def propose(self, kind: str) -> Proposal:
        """A candidate sentence, preferring unused clauses and then rarely used templates.

        Repeats are counted on the clause (the sentence without its connector), so "Moreover,
        X." and "Notably, X." count as the same sentence.
        """
        banks = phrases()
        best: tuple[int, str, str, bool] | None = None
        for _ in range(24):
            template, connectable = self._template(kind)
            clause = self.fill(template)
            score = self.used[clause] * 1000 + self.templates_used[template]
            if best is None or score < best[0]:
                best = (score, clause, template, connectable)
                if score == 0:
                    break
        first = banks.general[0]
        _, clause, template, connectable = best or (0, self.fill(first), first, False)
        if connectable and self._connectable(template) and self.rng.random() < 0.28:
            connectors = banks.connectors[self.voice.tone]
            choices = [c for c in connectors if c not in self.recent_connectors]
            connector = self.rng.choice(choices)
            sentence = self.finish(f"{connector} {clause[:1].lower()}{clause[1:]}")
            return Proposal(sentence, clause, template, connector)
        return Proposal(clause, clause, template, "")

    @staticmethod
    def _connectable(template: str) -> bool:
        # Templates opening with a placeholder keep the value's own casing; questions and
        # sentences that already open with a connector ("For instance, ...") read badly
        # behind another one.
        opening = " ".join(template.split()[:3])
        return template[0] != "{" and "?" not in template and not re.search(r"[,:]", opening)

    def accept(self, proposal: Proposal) -> str:
        self.used[proposal.clause] += 1
        self.templates_used[proposal.template] += 1
        if proposal.connector:
            self.recent_connectors = [*self.recent_connectors[-3:], proposal.connector]
        return proposal.sentence

    def make(self, kind: str) -> str:
        return self.accept(self.propose(kind))

    def lead(self, kind: str) -> str:
        """An opening sentence for a block of this kind that names the topic itself."""
        banks = phrases()
        bank = banks.kind_lines.get(kind) or banks.general
        template = self.rng.choice([t for t in bank if not self.templates_used[t]] or bank)
        clause = self.fill(template, x=self.voice.noun)
        return self.accept(Proposal(clause, clause, template, ""))

    def fit(self, kind: str, max_words: int) -> str | None:
        """A sentence of at most max_words, as close to it as a few draws allow."""
        best: tuple[int, Proposal] | None = None
        tries = 4 if max_words > 40 else 16
        for _ in range(tries):
            proposal = self.propose(kind)
            count = wc(proposal.sentence)
            if count <= max_words and (best is None or count > best[0]):
                best = (count, proposal)
                if max_words > 40 or count >= max_words - 1:
                    break
        return self.accept(best[1]) if best else None

    def micro(self, max_words: int) -> str | None:
        options = [
            line
            for line in phrases().micro_lines[self.voice.tone]
            if line not in self.micro_used and wc(line) <= max_words
        ]
        if not options:
            return None
        line = max(options, key=lambda item: (wc(item), item))
        self.micro_used.add(line)
        return line

    def keyword_lines(
        self, group: Sequence[str], *, separate: bool, compact: bool = False
    ) -> list[str]:
        banks = phrases()
        if not group:
            return []
        if compact:
            template = self.rng.choice(banks.compact_keyword_lines)
            return [self.finish(template.format(kws=join(group)))]
        if separate or len(group) == 1:
            bank = banks.keyword_lines
            templates = self.rng.sample(bank, k=min(len(group), len(bank)))
            lines = [self.fill(t, kw=kw) for t, kw in zip(templates, group, strict=False)]
            lines += [self.fill(self.rng.choice(bank), kw=kw) for kw in group[12:]]
            return lines
        template = self.rng.choice(banks.multi_keyword_lines)
        return [self.finish(template.format(kws=join(group), topic=self.voice.topic))]
