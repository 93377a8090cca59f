"""Rendering a draft's Markdown: citations of numbered sources become links to the
post's Sources list, and survive the sanitizer."""

from tasks.pipeline.rendering import render_markdown


def cite(n: int) -> str:
    return f'<a href="#source-{n}" title="Source {n}" rel="noopener noreferrer nofollow">[{n}]</a>'


def test_a_citation_links_to_its_source_in_the_sources_list():
    html = render_markdown("Acme was founded in 1998 [2].\n\n- Barrels hold 200 litres [1].")

    assert f"<p>Acme was founded in 1998 <sup>{cite(2)}</sup>.</p>" in html
    assert f"<li>Barrels hold 200 litres <sup>{cite(1)}</sup>.</li>" in html


def test_a_run_of_citations_is_one_superscript_of_links():
    html = render_markdown("Both say so [1][3].")

    assert html == f"<p>Both say so <sup>{cite(1)}{cite(3)}</sup>.</p>"


def test_links_code_and_escaped_brackets_are_not_citations():
    html = render_markdown(
        "A [2](https://example.com/two), a [reference][1], `[3]` and \\[4].\n\n"
        "[1]: https://example.com/one"
    )

    assert "#source-" not in html
    assert 'href="https://example.com/two"' in html and 'href="https://example.com/one"' in html
    assert "<code>[3]</code>" in html and "[4]" in html
