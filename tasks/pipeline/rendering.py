"""Markdown from providers is untrusted: render it, then sanitize the HTML.

Raw HTML in the Markdown is text, shown as written, never parsed: a model (or a
keyword a user gave, which the offline writer repeats) that writes `<script>` or an
unclosed `<div` would otherwise have the sanitizer drop everything after it, since an
unclosed script element runs to the end of the page. Markdown's own syntax (headings,
lists, tables, links, code) is all a post needs.

A citation of a numbered source, "[2]" (or a run of them, "[1][3]"), becomes a link to
`#source-2`, the anchor of that source in the post's Sources list, shown as a
superscript; a Markdown link ("[2](url)", "[text][2]") is left to Markdown."""

import re
import xml.etree.ElementTree as etree

import markdown as md
import nh3
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor
from markdown.util import AtomicString

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "li", "ol", "p", "pre", "strong", "sub", "sup", "table", "tbody", "td", "th",
    "thead", "tr", "ul", "mark", "dl", "dt", "dd",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "th": {"align"}, "td": {"align"}}


def sanitize_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


class RawHtmlAsText(Extension):
    """Python-Markdown without its raw HTML block and inline parsers (the extension API's
    registries), so `<tag>` in the text is escaped as text."""

    def extendMarkdown(self, md: md.Markdown) -> None:  # noqa: N802 - Markdown's name
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")


class Citations(Extension):
    """Citations of numbered sources as links to their entries in the Sources list."""

    # A run of citations, not the second half of a reference link ("[text][2]"), nor
    # the text of a link ("[2](url)") or of a reference definition.
    PATTERN = r"(?<!\])((?:\[\d{1,3}\])+)(?![(\[:])"

    class Processor(InlineProcessor):
        def handleMatch(self, m, data):  # noqa: N802 - Markdown's name
            run = etree.Element("sup")
            for number in re.findall(r"\d+", m.group(1)):
                link = etree.SubElement(run, "a", href=f"#source-{int(number)}")
                link.set("title", f"Source {int(number)}")
                # Atomic: the link's own "[2]" is not a citation to render again.
                link.text = AtomicString(f"[{int(number)}]")
            return run, m.start(0), m.end(0)

    def extendMarkdown(self, md: md.Markdown) -> None:  # noqa: N802 - Markdown's name
        # After code spans and escapes (190, 180), before reference links (170).
        md.inlinePatterns.register(self.Processor(self.PATTERN, md), "citation", 175)


def render_markdown(text: str) -> str:
    html = md.markdown(
        text or "",
        extensions=["extra", "sane_lists", RawHtmlAsText(), Citations()],
        output_format="html",
    )
    return sanitize_html(html)
