"""The offline reviewer: scores a draft from what can be measured in it, against its brief.

Seven scores, each 0..100, and the overall quality score as their weighted mean:

- completeness (25%): length against the target (40%: full marks within 10%, nothing at 50%
  off) and structure (60%): an introduction, at least three `## ` sections (one for targets
  under 300 words) and a conclusion section.
- relevance (20%): every keyword and the primary keyword present, the topic named.
- clarity (15%): few sentences over 30 words, none over 45, no paragraph over 150 words
  (a longer wall of text costs more).
- readability (15%): Flesch reading ease, average sentence length, average paragraph length.
- seo (10%): the primary keyword in the title, a heading and the introduction, without
  stuffing; a title of 10 to 70 characters.
- accuracy (10%): what an offline reviewer can verify without sources, i.e. internal
  consistency: no repeated sentences, placeholders or duplicate headings, and a list topic
  delivers the number of items its title promises.
- engagement (5%): an opening of two or more sentences, varied sentence lengths, a list,
  examples, and the reader addressed or a next step offered.

Each issue names the measured defect ("Too short: 412 words against a target of 800"), so
the refine stage (and a human) can act on it.
"""

import statistics
from typing import Any

from .measure import GIANT_PARAGRAPH, LONG_SENTENCE, Measures, measure, parse
from .voice import Voice

WEIGHTS = {
    "completeness": 0.25,
    "relevance": 0.20,
    "clarity": 0.15,
    "readability": 0.15,
    "seo": 0.10,
    "accuracy": 0.10,
    "engagement": 0.05,
}
LENGTH_TOLERANCE = 0.10
AVERAGE_SENTENCE = 22  # words, above which readers tire


def _clamp(value: float) -> int:
    return max(0, min(100, round(value)))


def length_off(m: Measures) -> float:
    """The relative distance from the target beyond the tolerance (0 when within it)."""
    return max(0.0, abs(m.words - m.target) / m.target - LENGTH_TOLERANCE)


def long_sentences_flagged(m: Measures) -> bool:
    """More than a few long sentences, or any very long one, is worth a fix."""
    share = len(m.long_sentences) / max(1, len(m.sentence_lengths))
    return (len(m.long_sentences) > 2 and share > 0.05) or any(n > 45 for n in m.long_sentences)


def scores(m: Measures) -> dict[str, int]:
    length = 100 * max(0.0, 1 - length_off(m) / 0.40)
    structure = (
        25 * (m.intro_sentences > 0)
        + 50 * min(len(m.body_headings), m.sections_needed) / m.sections_needed
        + 25 * (m.conclusion is not None)
    )
    terms = m.terms
    coverage = (len(terms) - len(m.missing)) / len(terms) if terms else 1.0
    relevance = 60 * coverage + 25 * m.topic_named + 15 * min(m.pk_count, 2) / 2

    sentences = max(1, len(m.sentence_lengths))
    clarity = (
        100
        - 200 * len(m.long_sentences) / sentences
        - min(30, 10 * sum(n > 45 for n in m.long_sentences))
        # A wall of text hurts more the longer it runs.
        - min(70, sum(20 + (n - GIANT_PARAGRAPH) / 10 for n in m.giant_paragraphs))
    )
    flesch = _clamp((m.flesch - 10) * 2)
    average = _clamp(100 - 8 * max(0.0, m.average_sentence - 20))
    paragraphs = m.paragraph_lengths
    mean_paragraph = statistics.fmean(paragraphs) if paragraphs else 0
    paragraph = _clamp(100 - max(0.0, mean_paragraph - 90))
    readability = 0.4 * flesch + 0.3 * average + 0.3 * paragraph

    density = m.pk_count * len(m.pk.split()) / max(1, m.words)
    title_ok = 10 <= len(m.title) <= 70
    seo = (
        30 * m.pk_in_title
        + 15 * m.pk_in_heading
        + 25 * m.pk_in_intro
        + 15 * title_ok
        + 15 * (0 < density <= 0.03)
    )
    accuracy = (
        100
        - min(40, 10 * m.duplicates)
        - 30 * bool(m.placeholders)
        - 10 * len(m.duplicate_headings)
        - 30 * (m.promised_items > 0 and m.delivered_items != m.promised_items)
    )
    spread = statistics.pstdev(m.sentence_lengths) if len(m.sentence_lengths) > 1 else 0
    engagement = (
        20 * (m.intro_sentences >= 2)
        + 20 * min(1.0, spread / 5)
        + 20 * (m.lists > 0)
        + 20 * (m.examples > 0)
        + 20 * m.addresses_reader
    )
    return {
        "clarity": _clamp(clarity),
        "accuracy": _clamp(accuracy),
        "completeness": _clamp(0.4 * length + 0.6 * structure),
        "relevance": _clamp(relevance),
        "seo": _clamp(seo),
        "readability": _clamp(readability),
        "engagement": _clamp(engagement),
    }


def issues(m: Measures) -> list[str]:
    found: list[str] = []
    if length_off(m):
        kind = "Too short" if m.words < m.target else "Too long"
        found.append(f"{kind}: {m.words} words against a target of {m.target}")
    found += [f"Keyword '{term}' is missing" for term in m.missing]
    if m.pk not in m.missing and not (m.pk_in_title or m.pk_in_heading or m.pk_in_intro):
        found.append(f"Primary keyword '{m.pk}' is not in the title, a heading or the introduction")
    if not m.intro_sentences:
        found.append("No introduction before the first section")
    if len(m.body_headings) < m.sections_needed:
        found.append(
            f"Only {len(m.body_headings)} body sections ('## ' headings); "
            f"at least {m.sections_needed} are needed"
        )
    if m.conclusion is None:
        found.append("No conclusion section at the end")
    if long_sentences_flagged(m):
        count = len(m.long_sentences)
        found.append(
            f"{count} sentence{'s' * (count != 1)} longer than {LONG_SENTENCE} words "
            f"(longest {m.long_sentences[0]})"
        )
    if m.average_sentence > AVERAGE_SENTENCE:
        found.append(
            f"Average sentence length is {m.average_sentence:.0f} words; "
            f"aim for {AVERAGE_SENTENCE} or fewer"
        )
    if m.giant_paragraphs:
        count = len(m.giant_paragraphs)
        found.append(
            f"{count} paragraph{'s' * (count != 1)} longer than {GIANT_PARAGRAPH} words "
            f"(longest {m.giant_paragraphs[0]})"
        )
    if m.repeated:
        found.append(f"{len(m.repeated)} sentences appear more than twice")
    if m.placeholders:
        found.append(f"Unfilled placeholder text: {', '.join(m.placeholders[:3])}")
    if m.duplicate_headings:
        found.append(f"Duplicate section headings: {', '.join(m.duplicate_headings[:3])}")
    if m.promised_items and m.delivered_items != m.promised_items:
        found.append(
            f"The topic promises {m.promised_items} items but the article numbers "
            f"{m.delivered_items}"
        )
    return found


def overall(section_scores: dict[str, int]) -> int:
    return _clamp(sum(WEIGHTS[name] * score for name, score in section_scores.items()))


def review(voice: Voice, target: int, draft: Any) -> dict[str, Any]:
    """The review stage's answer for a draft ({"title", "markdown"}): the quality score, the
    seven scores, feedback and the measured issues."""
    draft = draft if isinstance(draft, dict) else {}
    markdown = str(draft.get("markdown") or "")
    if not markdown.strip():
        return {
            "quality_score": 0,
            "scores": dict.fromkeys(WEIGHTS, 0),
            "qa_feedback": "There is no draft to review.",
            "issues": ["The draft is empty"],
        }
    title, sections = parse(markdown, str(draft.get("title") or ""))
    m = measure(voice, target, title, sections)
    section_scores = scores(m)
    quality = overall(section_scores)
    found = issues(m)
    if found:
        weakest = sorted(section_scores, key=lambda name: (section_scores[name], name))[:2]
        feedback = (
            f"Scored {quality}/100; weakest: "
            + ", ".join(f"{name} {section_scores[name]}" for name in weakest)
            + ". Needs revision: "
            + "; ".join(found)
            + "."
        )
    else:
        feedback = (
            f"Meets the brief: {m.words} words against a target of {m.target}, "
            f"all {len(m.terms)} keyword{'s' * (len(m.terms) != 1)} present, "
            f"{len(m.body_headings)} sections between an "
            f"introduction and a conclusion, sentences averaging {m.average_sentence:.0f} words."
        )
    return {
        "quality_score": quality,
        "scores": section_scores,
        "qa_feedback": feedback,
        "issues": found,
    }
