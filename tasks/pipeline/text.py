"""Plain-text helpers shared by the pipeline stages and the providers.

Word counts are measured on the text a reader sees, so Markdown syntax (heading hashes, list
markers, emphasis, link targets, code fences) never inflates or deflates a length check.
"""

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}(?=\s|$)\s*")
_HEADING_CLOSE = re.compile(r"\s+#+\s*$")
_BLOCKQUOTE = re.compile(r"^\s*(?:>\s?)+")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+")
_RULE = re.compile(r"^\s*([-*_])(?:\s*\1){2,}\s*$")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_EMPHASIS = re.compile(r"[*`]+|~~|(?<!\w)_+|_+(?!\w)")
_TABLE_PIPE = re.compile(r"\s*\|\s*")
_TABLE_DIVIDER = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")


def strip_markdown(markdown: str) -> str:
    """Return the reader-visible text of a Markdown document, one output line per input line."""
    lines: list[str] = []
    in_code = False
    for raw in markdown.splitlines():
        if _FENCE.match(raw):
            in_code = not in_code
            continue
        if in_code:
            # Code is shown to the reader verbatim, so it counts as text but is not un-marked.
            lines.append(raw)
            continue
        if _RULE.match(raw) or _TABLE_DIVIDER.match(raw):
            lines.append("")
            continue
        line = raw
        if _HEADING.match(line):
            line = _HEADING_CLOSE.sub("", _HEADING.sub("", line, count=1))
        line = _BLOCKQUOTE.sub("", line, count=1)
        line = _LIST_MARKER.sub("", line, count=1)
        line = _IMAGE.sub(r"\1", line)
        line = _LINK.sub(r"\1", line)
        line = _AUTOLINK.sub(r"\1", line)
        line = _HTML_TAG.sub("", line)
        line = _EMPHASIS.sub("", line)
        if "|" in line:
            line = _TABLE_PIPE.sub(" ", line).strip()
        lines.append(line)
    return "\n".join(lines)


def words(text: str) -> list[str]:
    """Whitespace-separated tokens that contain at least one letter or digit."""
    return [token for token in text.split() if any(char.isalnum() for char in token)]


def word_count(markdown: str) -> int:
    """Words of the Markdown document as a reader sees them."""
    return len(words(strip_markdown(markdown)))


def paragraphs(markdown: str) -> list[str]:
    """Prose paragraphs (blank-line separated, headings and list blocks excluded), as plain text."""
    blocks: list[str] = []
    current: list[str] = []
    in_code = False
    for raw in [*markdown.splitlines(), ""]:
        if _FENCE.match(raw):
            in_code = not in_code
            continue
        stripped = raw.strip()
        if in_code or not stripped or _HEADING.match(raw) or _LIST_MARKER.match(raw):
            if current:
                blocks.append(strip_markdown(" ".join(current)))
                current = []
            continue
        current.append(stripped)
    return blocks


# What an editor approves: the text readers will see and the search metadata.
APPROVED_FIELDS = ("title", "excerpt", "body_markdown", "seo_title", "meta_description", "tags")


def content_hash(content: Mapping[str, Any]) -> str:
    """A fingerprint of the approved fields of a draft or a post: equal exactly when a
    reader would see the same text and metadata."""
    fields = {name: content.get(name) or ("" if name != "tags" else []) for name in APPROVED_FIELDS}
    fields["tags"] = [str(tag) for tag in fields["tags"]]
    payload = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


# A citation of a numbered source, "[1]" (not a Markdown link "[1](...)"), and the
# stand-in it becomes while the Markdown is stripped (whose link syntax would eat it).
CITATION = re.compile(r"\[(\d{1,3})\](?!\()")
_CITE_HELD = re.compile(r"\u27e6(\d{1,3})\u27e7")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)]?\s+")
# "e.g. the" is not the end of a sentence, nor "Dr. Smith".
_ABBREVIATION = re.compile(r"(?:\b(?:e\.g|i\.e|etc|vs|Mr|Mrs|Ms|Dr|St|No|Inc|Ltd|Co)|\b[A-Z])\.$")


def sentences(markdown: str) -> list[tuple[str, list[int]]]:
    """The prose sentences of a Markdown document as a reader sees them (headings and
    code left out; list items are sentences too), each with the numbers of the sources
    it cites, in order: [("Acme was founded in 1998.", [1]), ...]. The citation marks
    are taken out of the sentence; a citation after the full stop belongs to the
    sentence before it."""
    held = CITATION.sub(lambda m: f"\u27e6{m.group(1)}\u27e7", markdown)
    found: list[tuple[str, list[int]]] = []
    in_code = False
    for raw in held.splitlines():
        if _FENCE.match(raw):
            in_code = not in_code
            continue
        if in_code or _HEADING.match(raw) or not raw.strip():
            continue
        line = strip_markdown(raw).strip()
        parts = [part for part in _SENTENCE_END.split(line) if part.strip()]
        merged: list[str] = []
        for part in parts:
            part = part.strip()
            starts_with_cite = _CITE_HELD.match(part)
            if merged and (starts_with_cite or _ABBREVIATION.search(merged[-1])):
                # "... in 1998. [1] Then ..." : the mark is the earlier sentence's.
                if starts_with_cite:
                    marks = re.match(r"(?:\u27e6\d{1,3}\u27e7\s*)+", part).group(0)
                    merged[-1] += " " + marks.strip()
                    part = part[len(marks) :].strip()
                    if part:
                        merged.append(part)
                    continue
                merged[-1] += " " + part
                continue
            merged.append(part)
        for sentence in merged:
            cited = [int(n) for n in _CITE_HELD.findall(sentence)]
            plain = " ".join(_CITE_HELD.sub(" ", sentence).split())
            plain = re.sub(r"\s+([.,;:!?])", r"\1", plain)
            if any(char.isalnum() for char in plain):
                found.append((plain, list(dict.fromkeys(cited))))
    return found
