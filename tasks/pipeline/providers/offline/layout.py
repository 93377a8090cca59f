"""How the offline writer lays out an article: blocks of sentences fitted to a word budget.

The writer decides what each block must say (`Block.required`, `closing`, `bullets`); this
module shares the target length out over the blocks, fills each with sentences from the phrase
banks, nudges the total onto the target and renders the Markdown.
"""

import random
from dataclasses import dataclass, field

from tasks.pipeline.text import words

from .voice import Sentences, wc


@dataclass
class Block:
    """One part of an article being written: its heading, sentences and list."""

    heading: str | None  # None for the introduction
    kind: str
    required: list[str] = field(default_factory=list)
    closing: list[str] = field(default_factory=list)
    fillers: list[str] = field(default_factory=list)
    bullet_lead: str = ""
    bullets: list[str] = field(default_factory=list)
    numbered: bool = False
    budget: int = 0

    def word_total(self) -> int:
        texts = [*self.required, *self.fillers, *self.closing, *self.bullets]
        if self.heading:
            texts.append(self.heading)
        if self.bullets:
            texts.append(self.bullet_lead)
        return sum(wc(text) for text in texts)


def budget(
    target: int,
    intro: Block,
    body: list[Block],
    feedback: Block | None,
    conclusion: Block,
    rng: random.Random,
) -> None:
    """Share the target out: the introduction, conclusion and feedback answers get a fixed
    part (at least what they already hold) and the body sections the rest, unevenly."""
    intro.budget = max(intro.word_total(), min(160, round(target * 0.1)))
    conclusion.budget = max(conclusion.word_total(), min(180, round(target * 0.1)))
    spent = intro.budget + conclusion.budget
    if feedback:
        feedback.budget = max(feedback.word_total(), min(320, round(target * 0.12)))
        spent += feedback.budget
    weights = [rng.uniform(0.8, 1.2) for _ in body]
    remaining = max(0, target - spent)
    for block, weight in zip(body, weights, strict=True):
        block.budget = round(remaining * weight / sum(weights))


def fill(block: Block, sentences: Sentences) -> None:
    """Add sentences to a block until it reaches its budget."""
    while True:
        gap = block.budget - block.word_total()
        if gap < 7:
            return
        sentence = sentences.fit(block.kind, gap)
        if sentence is None:
            return
        block.fillers.append(sentence)


def settle(target: int, blocks: list[Block], sentences: Sentences) -> None:
    """Nudge the total length onto the target by adding or removing single sentences."""
    tolerance = max(1, round(target * 0.015))
    for _ in range(80):
        diff = target - sum(block.word_total() for block in blocks)
        if abs(diff) <= tolerance:
            return
        if diff > 0:
            block = max(blocks, key=lambda b: (b.budget - b.word_total(), -blocks.index(b)))
            sentence = sentences.fit(block.kind, diff) if diff >= 7 else None
            sentence = sentence or sentences.micro(diff)
            if sentence is None:
                return
            block.fillers.append(sentence)
            continue
        excess = -diff
        options = [
            (abs(wc(text) - excess), bi, fi)
            for bi, block in enumerate(blocks)
            for fi, text in enumerate(block.fillers)
            if wc(text) <= excess + tolerance
        ]
        if not options:
            return
        _, bi, fi = min(options)
        del blocks[bi].fillers[fi]


def render(title: str, blocks: list[Block], rng: random.Random, *, short_paragraphs: bool) -> str:
    """The article as Markdown: the `# ` title, then each block's heading, paragraphs and list."""
    lines = [f"# {title}", ""]
    for block in blocks:
        if block.heading:
            lines += [f"## {block.heading}", ""]
        sentences = [*block.required, *block.fillers, *block.closing]
        paragraphs_ = paragraphs(sentences, rng, short=short_paragraphs)
        items = [
            f"{n}. {item}" if block.numbered else f"- {item}"
            for n, item in enumerate(block.bullets, start=1)
        ]
        bullets = [block.bullet_lead, "", *items, ""]
        for index, paragraph in enumerate(paragraphs_):
            lines += [paragraph, ""]
            if index == 0 and block.bullets:
                lines += bullets
        if not paragraphs_ and block.bullets:
            lines += bullets
    return "\n".join(lines).rstrip() + "\n"


def paragraphs(sentences: list[str], rng: random.Random, *, short: bool) -> list[str]:
    """Sentences grouped into paragraphs of three to five (two or three when short)."""
    out: list[str] = []
    current: list[str] = []
    size = rng.randint(2, 3) if short else rng.randint(3, 5)
    for sentence in sentences:
        current.append(sentence)
        if len(current) >= size or sum(len(words(s)) for s in current) >= 95:
            out.append(" ".join(current))
            current = []
            size = rng.randint(2, 3) if short else rng.randint(3, 5)
    if current:
        # A one-sentence tail reads like an afterthought, so fold it into the paragraph above.
        if len(current) == 1 and out and len(words(out[-1])) < 80:
            out[-1] = f"{out[-1]} {current[0]}"
        else:
            out.append(" ".join(current))
    # Markdown reads a line opening with "#" as a heading ("#remotework #async" would be an
    # H1), so a paragraph that opens with a social post's hashtags joins the one above it.
    for index in range(len(out) - 1, 0, -1):
        if out[index].startswith("#"):
            out[index - 1] = f"{out[index - 1]} {out.pop(index)}"
    return out
