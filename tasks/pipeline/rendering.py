"""Markdown from providers is untrusted: render it, then sanitize the HTML.

Raw HTML in the Markdown is text, shown as written, never parsed: a model (or a
keyword a user gave, which the offline writer repeats) that writes `<script>` or an
unclosed `<div` would otherwise have the sanitizer drop everything after it, since an
unclosed script element runs to the end of the page. Markdown's own syntax (headings,
lists, tables, links, code) is all a post needs."""

import markdown as md
import nh3
from markdown.extensions import Extension

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


def render_markdown(text: str) -> str:
    html = md.markdown(
        text or "", extensions=["extra", "sane_lists", RawHtmlAsText()], output_format="html"
    )
    return sanitize_html(html)
