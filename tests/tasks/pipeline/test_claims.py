"""The deterministic layer of the claims check (tasks.pipeline.claims)."""

from tasks.pipeline.claims import (
    SUPPORTED,
    UNSUPPORTED,
    UNVERIFIABLE,
    check_claims,
    open_unsupported,
    with_judgement,
)
from tasks.pipeline.text import sentences

ACME = {
    "n": 1,
    "url": "https://example.org/acme",
    "ok": True,
    "text": "Acme Corp was founded in 1998 by Jane Roe in Leeds. It employs 1,200 people, "
    "and 45% of them work remotely. Its motto is \u201cbuild to last\u201d.",
}
UNREADABLE = {"n": 2, "url": "https://example.org/gone", "ok": False, "text": "", "error": "404"}


def verdicts(markdown: str, sources=(ACME, UNREADABLE)) -> list[tuple[str, str]]:
    return [(c["sentence"], c["verdict"]) for c in check_claims(markdown, sources)]


def test_a_planted_wrong_year_is_unsupported_and_shows_the_sources_sentence():
    claims = check_claims("Acme was founded in 1989 [1].", [ACME])
    assert claims[0]["verdict"] == UNSUPPORTED
    assert "1989" in claims[0]["reason"]
    assert claims[0]["excerpt"] == "Acme Corp was founded in 1998 by Jane Roe in Leeds."
    assert check_claims("Acme was founded in 1998 [1].", [ACME])[0]["verdict"] == SUPPORTED


def test_numbers_percentages_quotes_and_names_must_be_in_the_cited_source():
    assert verdicts("It has 1200 staff [1].") == [("It has 1200 staff.", SUPPORTED)]
    assert verdicts("Some 45 percent work remotely [1].")[0][1] == SUPPORTED
    assert verdicts("Some 54% work remotely [1].")[0][1] == UNSUPPORTED
    assert verdicts("Its motto is \u201cbuild to last\u201d [1].")[0][1] == SUPPORTED
    assert verdicts('Its motto is "move fast" [1].')[0][1] == UNSUPPORTED
    assert verdicts("It was founded by Jane Roe [1].")[0][1] == SUPPORTED
    assert verdicts("It was founded by John Doe [1].")[0][1] == UNSUPPORTED
    assert verdicts("It was founded in Leeds [1].")[0][1] == SUPPORTED
    assert verdicts("It was founded in Paris [1].")[0][1] == UNSUPPORTED


def test_a_claim_on_an_unreadable_source_is_unverifiable_and_an_unknown_number_unsupported():
    assert verdicts("Something happened [2].") == [("Something happened.", UNVERIFIABLE)]
    claims = check_claims("Something else [7].", [ACME, UNREADABLE])
    assert claims[0]["verdict"] == UNSUPPORTED and "[7]" in claims[0]["reason"]


def test_sentences_without_a_citation_are_no_claims_and_marks_after_the_stop_count():
    markdown = "# Acme\n\nAcme exists. It was founded in 1998. [1] It grew.\n\n## Later\n"
    assert sentences(markdown) == [
        ("Acme exists.", []),
        ("It was founded in 1998.", [1]),
        ("It grew.", []),
    ]
    assert verdicts(markdown) == [("It was founded in 1998.", SUPPORTED)]


def test_a_models_judgement_only_adds_doubt():
    claims = check_claims("Acme was founded in 1998 [1]. Acme was founded in 1989 [1].", [ACME])
    judged = with_judgement(claims, {0: "the source says otherwise", 1: ""})
    assert [c["verdict"] for c in judged] == [UNSUPPORTED, UNSUPPORTED]
    assert judged[0]["reason"] == "model: the source says otherwise"
    assert [c["sentence"] for c in open_unsupported(judged)] == [
        "Acme was founded in 1998.",
        "Acme was founded in 1989.",
    ]
    unverifiable = check_claims("Gone [2].", [ACME, UNREADABLE])
    assert with_judgement(unverifiable, {})[0]["verdict"] == UNVERIFIABLE


def test_the_nastiest_text_gives_claims_not_errors():
    markdown = "[1]" * 50 + "\x00 <script>x</script> [99999] " + "9" * 5000 + " [1]."
    claims = check_claims(markdown, [ACME])
    assert all(c["verdict"] in (SUPPORTED, UNSUPPORTED, UNVERIFIABLE) for c in claims)
