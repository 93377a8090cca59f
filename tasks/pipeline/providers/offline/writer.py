"""The offline writer: a deterministic text provider that needs no network and no key.

The writer composes real, readable articles from phrase banks keyed by tone, style and section
kind. All randomness comes from `random.Random` seeded with the brief's stable seed and the stage
name, so the same brief always yields byte-identical output while different briefs diverge.
"""

import json
import random
import re
from decimal import Decimal
from typing import Any

from tasks.pipeline.text import word_count

from ..base import Brief, Completion, ProviderError
from .extract import extractive_draft
from .layout import Block, budget, fill, render, settle
from .notes import further_reading
from .refine import refine
from .review import review
from .seo import seo
from .shapes import agree
from .tables import phrases
from .voice import Sentences, Voice, classify

WRITER_MODEL = "offline-writer-1"


def _key(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _approx_tokens(text: str) -> int:
    return round(len(text.split()) * 4 / 3)


def _note_points(feedback: str) -> list[str]:
    points: list[str] = []
    for part in re.split(r"[\n;]+|(?<=[.!?])\s+", feedback):
        point = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", part).strip().rstrip(".!")
        if len(point) >= 3 and point.lower() not in (p.lower() for p in points):
            points.append(" ".join(point.split()[:30]))
    return points


def _feedback_points(notes: list[str]) -> tuple[list[str], int]:
    """The points to answer, and how many of them lead: the first point of every note
    of the ledger comes first (each note is answered, however many there are), then
    the notes' other points, five points in all at least."""
    per_note = [_note_points(note) for note in notes]
    leads = list(dict.fromkeys(points[0] for points in per_note if points))
    rest = [point for points in per_note for point in points[1:] if point not in leads]
    points = list(dict.fromkeys(leads + rest))
    return points[: max(5, len(leads))], len(leads)


def _feedback_themes(feedback: str) -> set[str]:
    lowered = feedback.lower()
    themes = phrases().feedback_themes
    return {theme for theme, hints in themes.items() if any(h in lowered for h in hints)}


class Writer:
    """Plans and writes one article for a brief."""

    def __init__(self, brief: Brief) -> None:
        self.brief = brief
        self.voice = Voice.of(brief)
        self.target = max(60, int(brief.target_length or 800))
        self.responses_given = 0

    def rng(self, stage: str) -> random.Random:
        # A string seed is hashed with SHA-512 by random, so it is stable across processes.
        return random.Random(f"{self.brief.seed()}:{stage}")

    # Research -------------------------------------------------------------------------------

    def section_count(self) -> int:
        count = min(8, max(3, round(self.target / 400) + 2))
        return min(count, 4) if self.voice.task_type == "social_post" else count

    def heading(self, template: str) -> str:
        """A plan heading about the topic's short subject, its verb agreeing in number."""
        if "{T}" not in template:
            return template
        voice = self.voice
        return agree(template.format(T=voice.heading_topic), voice.shape.core_plural)

    def plan(self, rng: random.Random) -> list[tuple[str, str]]:
        """(kind, heading) pairs for the body sections, in reading order."""
        if self.voice.shape.kind == "list":
            return self.list_items()
        return self.section_plan(rng)

    def section_plan(self, rng: random.Random) -> list[tuple[str, str]]:
        """Sections from the style's plan, whatever the topic's shape."""
        plan = phrases().section_plans[self.voice.style]
        count = min(self.section_count(), len(plan))
        chosen = [0, *sorted(rng.sample(range(1, len(plan)), count - 1))]
        title = _key(self.voice.title_topic)
        sections = []
        for i in chosen:
            # "What Is Observability?" must not repeat the title of that very question.
            variants = [self.heading(v) for v in plan[i][1]]
            fresh = [v for v in variants if _key(v) != title] or variants
            sections.append((plan[i][0], rng.choice(fresh)))
        return sections

    def list_items(self) -> list[tuple[str, str]]:
        """The items a list topic promises ("7 ways ..."): exactly that many, in bank order."""
        bank = phrases().list_items[self.voice.shape.items]
        count = min(self.voice.shape.count, len(bank))
        return [bank[i] for i in sorted(self.rng("items").sample(range(len(bank)), count))]

    def list_as_sections(self) -> bool:
        """Whether each list item gets a section, or all of them one numbered list."""
        return self.target / (self.voice.shape.count + 2) >= 45

    def research(self) -> dict[str, Any]:
        banks = phrases()
        rng = self.rng("research")
        voice = self.voice
        sentences = Sentences(voice, rng)
        outline = [heading for _, heading in self.plan(rng)]
        key_points = sentences.keyword_lines(voice.terms[:6], separate=True)
        key_points.insert(0, sentences.lead("why"))
        if len(key_points) < 3:
            key_points += [sentences.make("how"), sentences.make("pitfalls")]
        familiarity = "little prior" if voice.style == "educational" else "some working"
        notes = (
            f"Written for {voice.aud}, who are assumed to have {familiarity} knowledge of "
            f"{voice.topic}. {banks.tone_notes[voice.tone]} Address their likely questions about "
            f"{voice.pk} and aim for about {self.target} words."
        )
        return {
            "angle": sentences.fill(banks.angles[voice.style]),
            "outline": outline,
            "key_points": key_points[:8],
            "audience_notes": notes,
        }

    # Draft ----------------------------------------------------------------------------------

    def title(self, rng: random.Random, sections: int) -> str:
        banks = phrases()
        shape = self.voice.shape
        if shape.kind in banks.shape_titles:
            return rng.choice(banks.shape_titles[shape.kind]).format(T=self.voice.title_topic)
        if _key(shape.phrase) != _key(shape.text):
            return self.voice.title_topic  # "A beginner's guide to X" is a title already
        options = [*banks.titles[self.voice.style], banks.tone_titles[self.voice.tone]]
        template = rng.choice(options)
        topic = self.voice.title_topic
        if not template.startswith("{T}") and topic.startswith("The "):
            topic = "the " + topic[4:]  # "Rethinking the Future of Remote Work"
        return template.format(T=topic, n=sections)

    def opening(self, sentences: Sentences, rng: random.Random, *, compact: bool) -> list[str]:
        """The introduction's first sentences, which name the topic in its own shape."""
        banks = phrases()
        voice = self.voice
        shape = voice.shape
        values = {"aud": voice.aud, "piece": voice.piece, "clause": shape.clause}
        if shape.kind == "question":
            lines = [sentences.finish(shape.text)]
            if not compact:
                follow_ups = banks.question_follow_ups
                follow_ups += banks.clause_openers["question"] * bool(shape.clause)
                lines.append(sentences.finish(rng.choice(follow_ups).format(**values)))
            return lines
        if shape.kind == "howto":
            return [sentences.finish(rng.choice(banks.clause_openers["howto"]).format(**values))]
        if shape.kind == "list":
            opener = rng.choice(banks.list_openers).format(items=shape.text, **values)
            return [sentences.finish(opener)]
        return []

    def outline_from(self, research: Any, rng: random.Random) -> list[tuple[str, str]]:
        banks = phrases()
        outline = research.get("outline") if isinstance(research, dict) else None
        # A plan's outline has {"heading", "point", "sources"} entries.
        outline = [h.get("heading", "") if isinstance(h, dict) else h for h in outline or ()]
        headings = [" ".join(str(h).split()) for h in outline if str(h).strip()]
        if not headings:
            return self.plan(rng)
        known = {
            self.heading(heading): kind
            for kind, variants in banks.section_plans[self.voice.style]
            for heading in variants
        }
        known.update({h: kind for bank in banks.list_items.values() for kind, h in bank})
        cleaned = [re.sub(r"^(?:#+\s*)?(?:\d+[.)]\s*)?", "", h) for h in headings]
        sections = [(known.get(h) or classify(h), h) for h in cleaned if h]
        shape = self.voice.shape
        if shape.kind == "list":
            # The title promises a number of items; an outline of another length breaks it.
            hints = banks.conclusion_hints
            items = [s for s in sections if not any(h in s[1].lower() for h in hints)]
            return items if len(items) == shape.count else self.list_items()
        return sections or self.plan(rng)

    def draft(self, research: Any, plan: Any = None) -> str:
        further = further_reading(research, tone=self.voice.tone, piece=self.voice.piece)
        # The links and credits count toward the length the brief asks for.
        self.target = max(60, self.target - word_count(further))
        # With sources to read, the draft says what they say (extract), cited.
        text = extractive_draft(self, research, plan)
        if text is None:
            text = self._draft(research, compact=False)
        if text is None:
            # Very short targets cannot hold the full scaffolding (hooks, sign-offs, one sentence
            # per keyword), so fall back to one sentence per block with keywords grouped.
            text = self._draft(research, compact=True)
        assert text is not None  # noqa: S101 - compact drafts are always produced
        return f"{text.rstrip()}\n\n{further}\n" if further else text

    def _draft(self, research: Any, *, compact: bool) -> str | None:
        banks = phrases()
        rng = self.rng("draft")
        voice = self.voice
        sentences = Sentences(voice, rng)
        self.responses_given = 0
        sections = self.outline_from(research, rng)
        conclusion_heading = rng.choice(
            banks.conclusion_headings.get(voice.task_type) or banks.conclusion_headings[voice.style]
        )
        if len(sections) > 1 and any(h in sections[-1][1].lower() for h in banks.conclusion_hints):
            conclusion_heading = sections.pop()[1]
        title = self.title(rng, len(sections))
        listed = voice.shape.kind == "list"
        items: list[str] = []
        if listed and not self.list_as_sections():
            # Too many items for a section each: one numbered list, plus two sections of
            # context when the length allows, so the piece still has a body.
            items = [heading for _, heading in sections]
            sections = [("overview", rng.choice(banks.list_glance_headings))]
            if self.target >= 300:
                plan = banks.section_plans[voice.style]
                extra = [p for p in plan if p[0] in ("why", "implement")]
                for kind, variants in extra[:2]:
                    fresh = [v for v in map(self.heading, variants) if v not in items]
                    sections.append((kind, rng.choice(fresh or [self.heading(variants[0])])))
        numbered = (listed and not items) or (voice.style == "listicle" and not listed)
        notes = [note for _, note in self.brief.notes()]
        points, leads = _feedback_points(notes)
        themes = _feedback_themes("\n".join(notes))
        hook = sentences.fill(rng.choice(banks.hooks[voice.style]))
        audience_lines = banks.compact_audience_lines if compact else banks.audience_lines
        audience = sentences.fill(audience_lines[voice.tone])

        opening = self.opening(sentences, rng, compact=compact)
        intro = Block(heading=None, kind="intro")
        if compact:
            intro.required.append(opening[0] if opening else audience)
        else:
            if voice.task_type == "newsletter":
                intro.required.append(banks.greetings[voice.tone])
            intro.required += [*opening, audience] if opening else [hook, audience]
        # Search engines and readers both look for the primary keyword near the top.
        lead_terms = [t for t in voice.terms[:1] if t.lower() == voice.pk.lower()]
        intro.required += sentences.keyword_lines(lead_terms, separate=True, compact=compact)

        per_section = self.target / (len(sections) + 1)
        groups: list[list[str]] = [[] for _ in sections]
        later_terms = [t for t in voice.terms if t not in lead_terms]
        for index, term in enumerate(rng.sample(later_terms, k=len(later_terms))):
            groups[index % len(sections)].append(term)
        body: list[Block] = []
        for index, ((kind, heading), group) in enumerate(zip(sections, groups, strict=True)):
            if numbered:
                heading = f"{index + 1}. {heading}"
            block = Block(heading=heading, kind=kind)
            if items and index == 0:
                block.bullet_lead, block.bullets = banks.list_leads[voice.tone], items
                block.numbered = True
            if not compact or not group:
                block.required.append(sentences.lead(kind))
            separate = not compact and per_section >= 45 * len(group)
            block.required += sentences.keyword_lines(group, separate=separate, compact=compact)
            if not compact:
                self._apply_themes(block, themes, sentences, long_form=per_section >= 110)
            body.append(block)

        feedback_block: Block | None = None
        if points and self.target >= 350:
            feedback_block = Block(heading=banks.feedback_headings[voice.tone], kind="implement")
            for point in points:
                feedback_block.required += self._respond(point, sentences, rng)

        conclusion = Block(heading=conclusion_heading, kind="conclusion")
        responses: list[str] = []
        if points and (compact or feedback_block is None):
            # Too short for a section of answers: one sentence for each note.
            responses = [self._respond(point, sentences, rng, compact=compact)[0]
                         for point in points[:leads]]  # fmt: skip
        call = sentences.fill(rng.choice(banks.calls_to_action[voice.tone]))
        if compact:
            conclusion.required += responses or [call]
        else:
            conclusion.required.append(sentences.lead("conclusion"))
            conclusion.required += responses
            conclusion.closing.append(call)
            if "action" in themes:
                extra = sentences.fill(banks.calls_to_action[voice.tone][0])
                conclusion.closing = list(dict.fromkeys([extra, call]))
            if voice.task_type == "newsletter":
                conclusion.closing.append(banks.sign_offs[voice.tone])
        if voice.task_type == "social_post":
            tags = [re.sub(r"[^0-9a-z]", "", t.lower()) for t in (voice.topic, *voice.terms)]
            tags = [tag for tag in dict.fromkeys(tags) if tag][: 2 if compact else 5]
            conclusion.closing.append(" ".join(f"#{tag}" for tag in tags))

        blocks = [intro, *body, *([feedback_block] if feedback_block else []), conclusion]
        if not compact and sum(b.word_total() for b in blocks) > self.target * 0.95:
            return None
        self._add_bullets(body, themes, sentences, rng)
        budget(self.target, intro, body, feedback_block, conclusion, rng)
        for block in blocks:
            fill(block, sentences)
        settle(self.target, blocks, sentences)
        return render(title, blocks, rng, short_paragraphs="structure" in themes)

    def _apply_themes(
        self, block: Block, themes: set[str], sentences: Sentences, *, long_form: bool
    ) -> None:
        """Editor feedback themes add required sentences to every section."""
        if not long_form:
            return
        if "examples" in themes:
            block.required.append(sentences.make("examples"))
        if "keywords" in themes and self.voice.terms:
            block.required += sentences.keyword_lines([sentences.term()], separate=True)
        if "audience" in themes:
            block.required.append(sentences.fill(sentences.rng.choice(phrases().audience_extra)))
        if "depth" in themes:
            block.required.append(sentences.make(sentences.rng.choice(("how", "measure"))))

    def _respond(
        self,
        point: str,
        sentences: Sentences,
        rng: random.Random,
        *,
        compact: bool = False,
    ) -> list[str]:
        banks = phrases()
        voice = self.voice
        first, _, rest = point.partition(" ")
        imperative = first.lower() in banks.imperative_verbs and bool(rest)
        if compact:
            lead = f"To {first.lower()} {rest}, start small." if imperative else f"Noted: {point}."
            return [sentences.finish(lead)]
        if imperative:
            phrase = f"{first.lower()} {rest}"
            bank = banks.responses_to_requests
        else:
            phrase = point[:1].lower() + point[1:]
            bank = banks.responses_to_remarks
        # Consecutive points get consecutive frames, so responses rarely share a sentence shape.
        lead = bank[(self.brief.seed() + self.responses_given) % len(bank)]
        self.responses_given += 1
        lead = lead.format(p=phrase, topic=voice.topic, aud=voice.aud, piece=voice.piece)
        lowered = point.lower()
        if any(h in lowered for h in banks.feedback_themes["examples"]):
            follow = sentences.make("examples")
        elif any(h in lowered for h in banks.feedback_themes["keywords"]):
            follow = sentences.keyword_lines([sentences.term()], separate=True)[0]
        elif any(h in lowered for h in banks.feedback_themes["depth"]):
            follow = sentences.make("measure")
        elif any(h in lowered for h in banks.feedback_themes["audience"]):
            follow = sentences.fill(rng.choice(banks.audience_extra))
        else:
            follow = sentences.make("implement")
        return [sentences.finish(lead), follow]

    def _add_bullets(
        self, body: list[Block], themes: set[str], sentences: Sentences, rng: random.Random
    ) -> None:
        banks = phrases()
        if self.voice.style not in ("listicle", "technical", "educational") and (
            "structure" not in themes
        ):
            return
        per_section = self.target / (len(body) + 1)
        if per_section < 140:
            return
        # One deck shared by every section, so no item repeats across sections.
        deck = rng.sample(banks.bullets, k=len(banks.bullets))
        leads = banks.bullet_leads[self.voice.tone]
        lists = 0
        for index, block in enumerate(body):
            skip = block.bullets or index % 2 == 1 or block.kind in ("story", "perspective")
            if skip or len(deck) < 3:
                continue
            block.bullet_lead = leads[lists % len(leads)]
            lists += 1
            count = rng.randint(3, 4)
            block.bullets = [sentences.fill(item) for item in deck[:count]]
            del deck[:count]


class OfflineLLMProvider:
    """A deterministic writer: the full pipeline runs without network access or API keys."""

    name = "offline"

    def generate(
        self,
        *,
        stage: str,
        brief: Brief,
        prompt: str,
        context: dict[str, Any],
        model: str = WRITER_MODEL,
        timeout: float = 0,
    ) -> Completion:
        writer = Writer(brief)
        context = context or {}
        if stage == "research":
            text = json.dumps(writer.research(), ensure_ascii=False, indent=2)
        elif stage == "draft":
            text = writer.draft(context.get("research"), context.get("plan"))
        elif stage == "review":
            text = json.dumps(
                review(writer.voice, writer.target, context.get("draft")),
                ensure_ascii=False,
                indent=2,
            )
        elif stage == "refine":
            text = refine(writer, context.get("draft"), context.get("critique"))
        elif stage == "check":
            # Judging whether a source entails a claim takes a model: the offline
            # writer has no opinion, and says so by flagging nothing.
            text = json.dumps({"unsupported": []})
        elif stage == "seo":
            text = json.dumps(
                seo(writer.voice, writer.rng("seo"), context.get("draft")),
                ensure_ascii=False,
                indent=2,
            )
        else:
            raise ProviderError(f"The offline writer has no stage named {stage!r}")
        return Completion(
            text=text,
            model=WRITER_MODEL,
            tokens_in=_approx_tokens(prompt),
            tokens_out=_approx_tokens(text),
            cost=Decimal("0"),
        )
