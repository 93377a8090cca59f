"""Research notes the draft ends with: links to our related posts and credit for the sources read.

The research stage may add `internal_links` (`{"title", "url"}` of our own published posts,
site-relative) and `sources` (`{"url", "title", "text", "ok", "error"}` of pages fetched for
the task). Both arrive from outside the writer, so each entry is checked before it becomes a
Markdown link: internal URLs must be site paths, source URLs http(s), and titles lose the
characters that would break the link syntax.
"""

import re
from typing import Any
from urllib.parse import urlsplit

from .tables import phrases

MAX_LINKS = 5
_UNSAFE_URL = re.compile(r"[\s()<>\[\]\"'`\\]")
_TITLE_NOISE = re.compile(r"[\[\]`<>|\\]")


def _title(value: Any, fallback: str) -> str:
    title = " ".join(_TITLE_NOISE.sub(" ", str(value or "")).split())[:120].strip()
    return title or fallback


def internal_links(research: Any) -> list[tuple[str, str]]:
    """(title, url) of our related posts: site paths only ("/posts/slug/"), deduplicated."""
    entries = research.get("internal_links") if isinstance(research, dict) else None
    links: dict[str, str] = {}
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict):
            continue
        url = str(entry.get("url") or "").strip()
        if not url.startswith("/") or url.startswith("//") or _UNSAFE_URL.search(url):
            continue
        links.setdefault(url, _title(entry.get("title"), url))
    return [(title, url) for url, title in links.items()][:MAX_LINKS]


def sources_read(research: Any) -> list[tuple[str, str]]:
    """(title, url) of the sources fetched successfully, http(s) only, deduplicated."""
    entries = research.get("sources") if isinstance(research, dict) else None
    found: dict[str, str] = {}
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict) or entry.get("ok") is not True:
            continue
        url = str(entry.get("url") or "").strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or _UNSAFE_URL.search(url):
            continue
        found.setdefault(url, _title(entry.get("title"), parts.netloc))
    return [(title, url) for url, title in found.items()][:MAX_LINKS]


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def further_reading(research: Any, *, tone: str, piece: str) -> str:
    """The closing "## Further reading" section as Markdown, or "" when there is nothing to
    link or credit."""
    links = internal_links(research)
    sources = sources_read(research)
    if not links and not sources:
        return ""
    lines = ["## Further reading", ""]
    if links:
        lines += [f"- [{title}]({url})" for title, url in links]
        lines.append("")
    if sources:
        credited = _join([f"[{title}]({url})" for title, url in sources])
        credits = phrases().credit_lines
        template = credits.get(tone, credits["professional"])
        line = template.format(sources=credited, piece=piece)
        lines.append(line[:1].upper() + line[1:])
    return "\n".join(lines).rstrip()
