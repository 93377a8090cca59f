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
