"""The style guide's rules checked by code on a draft, the model's verdicts read back,
and the guide as the draft prompt states it."""

from tasks.pipeline.style import StyleRules, check_style, describe, model_results, report

DRAFT = """# Growing Tomatoes

Tomatoes need sun. They are worth the effort!

## Feeding

Feed them every two weeks with a balanced fertiliser, more often in pots, less often in
rich soil, and never when the plants are dry at the roots during a heat wave.

## Category notes

A categorical rule: water at the base.
"""


def results_by_rule(markdown: str, rules: StyleRules) -> dict[str, dict]:
    return {result["rule"]: result for result in check_style(markdown, rules)}


def test_a_banned_phrase_fails_its_rule_with_the_first_sentence_that_uses_it():
    found = results_by_rule(DRAFT, StyleRules(banned_phrases=("worth THE effort", "cat")))
    banned = found['Banned: "worth THE effort"']
    assert banned == {"rule": 'Banned: "worth THE effort"', "kind": "code", "passed": False,
                      "sentence": "They are worth the effort!", "detail": ""}  # fmt: skip
    # Whole words only: "Category" and "categorical" do not use "cat".
    assert found['Banned: "cat"']["passed"] is True
    assert found['Banned: "cat"']["sentence"] == ""


def test_a_banned_word_in_a_heading_fails_too():
    found = results_by_rule(DRAFT, StyleRules(banned_phrases=("feeding",)))
    assert found['Banned: "feeding"'] | {} == {
        "rule": 'Banned: "feeding"', "kind": "code", "passed": False, "sentence": "Feeding",
        "detail": "",
    }  # fmt: skip


def test_an_exclamation_mark_fails_the_rule_that_forbids_them():
    found = results_by_rule(DRAFT, StyleRules(no_exclamation_marks=True))
    assert found["No exclamation marks"]["passed"] is False
    assert found["No exclamation marks"]["sentence"] == "They are worth the effort!"
    calm = DRAFT.replace("effort!", "effort.")
    assert results_by_rule(calm, StyleRules(no_exclamation_marks=True))["No exclamation marks"][
        "passed"
    ]


def test_the_first_sentence_over_the_maximum_length_fails_the_rule():
    found = results_by_rule(DRAFT, StyleRules(max_sentence_words=20))
    rule = found["At most 20 words a sentence"]
    assert rule["passed"] is False
    assert rule["sentence"].startswith("Feed them every two weeks")
    assert rule["detail"] == "32 words"
    assert results_by_rule(DRAFT, StyleRules(max_sentence_words=32))["At most 32 words a sentence"][
        "passed"
    ]


def test_a_required_phrase_passes_only_when_the_piece_carries_it():
    rules = StyleRules(required_phrases=("Written with AI assistance", "water at the base"))
    found = results_by_rule(DRAFT, rules)
    assert found['Required: "Written with AI assistance"'] == {
        "rule": 'Required: "Written with AI assistance"', "kind": "code", "passed": False,
        "sentence": "", "detail": "not in the piece",
    }  # fmt: skip
    assert found['Required: "water at the base"']["passed"] is True


def test_no_rule_no_result():
    assert check_style(DRAFT, StyleRules()) == []
    assert describe(StyleRules(version=3)) == ""


def test_the_model_verdicts_are_read_per_rule_and_a_rule_without_one_is_not_judged():
    rules = StyleRules(model_rules=("Friendly tone", "Written for beginners", "No jargon"))
    data = {"style": [
        {"rule": 1, "passed": True, "sentence": ""},
        {"rule": "written for BEGINNERS", "passed": False, "sentence": " Feed them  often. "},
        {"rule": 3, "passed": "maybe"},
    ]}  # fmt: skip
    results = model_results(rules, data, unjudged="not judged: no verdict")
    assert [(r["rule"], r["kind"], r["passed"], r["sentence"], r["detail"]) for r in results] == [
        ("Friendly tone", "model", True, "", ""),
        ("Written for beginners", "model", False, "Feed them often.", ""),
        ("No jargon", "model", None, "", "not judged: no verdict"),
    ]


def test_a_report_names_the_guides_version_code_rules_first():
    rules = StyleRules(version=4, no_exclamation_marks=True, model_rules=("Friendly tone",))
    found = report(DRAFT, rules)
    assert found["version"] == 4
    assert [(r["kind"], r["passed"], r["detail"]) for r in found["results"]] == [
        ("code", False, ""),
        ("model", None, "not judged: no model"),
    ]
    assert report(DRAFT, None) is None


def test_the_prompt_states_every_rule_of_the_guide():
    rules = StyleRules(
        version=7, banned_phrases=("synergy", "game changer"), no_exclamation_marks=True,
        max_sentence_words=25, required_phrases=("Written with AI assistance",),
        model_rules=("Keep a warm, plain tone",),
    )  # fmt: skip
    text = describe(rules)
    assert "version 7" in text
    for part in ('"synergy", "game changer"', "No exclamation marks", "longer than 25 words",
                 '"Written with AI assistance"', "Keep a warm, plain tone"):  # fmt: skip
        assert part in text
