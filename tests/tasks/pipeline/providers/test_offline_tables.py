"""The offline writer's data files are checked when they are read: a malformed table is
refused with the file and the key named, before any article is written from it."""

from pathlib import Path

import pytest

from tasks.pipeline.providers.offline.tables import (
    HERE,
    Lexicon,
    Phrases,
    TableError,
    lexicon,
    load,
    phrases,
)


def edited(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """A copy of the shipped file `name` with one edit, so only that edit is wrong in it."""
    text = (HERE / name).read_text()
    assert text.count(old) == 1, old
    path = tmp_path / name
    path.write_text(text.replace(old, new))
    return path


def test_the_shipped_files_load_and_the_loaded_tables_cannot_be_changed_by_a_caller() -> None:
    banks = phrases()
    assert phrases() is banks  # read once
    assert len(banks.kind_lines["overview"]) > 5 and "what" in lexicon().question_words
    # Every call shares this one copy: a caller editing it would change later articles.
    with pytest.raises(TypeError):
        banks.kind_lines["overview"] = ()  # type: ignore[index]
    with pytest.raises(AttributeError):
        banks.kind_lines["overview"].append("x")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (  # a tone the writer looks up is missing
            '    casual = "Here\'s the whole list:"\n',
            "",
            "phrases.toml: list_leads: has no entry for 'casual'",
        ),
        (  # a misspelt key, which the writer would never look up
            "[kind_lines]\n    overview = [",
            "[kind_lines]\n    overveiw = [",
            "phrases.toml: kind_lines.overveiw: not one of the keys the writer uses",
        ),
        (  # a placeholder its table is not filled with: would leak into the text as written
            '    casual = "Hey there, and welcome back!"',
            '    casual = "Hey there, {aud}!"',
            "phrases.toml: greetings.casual: 'Hey there, {aud}!' uses {aud}, which this table "
            "is not filled with (it may use: none)",
        ),
        (  # a placeholder misspelt: a KeyError halfway through some article
            '    "Start with {kws}.",',
            '    "Start with {kw}.",',
            "phrases.toml: compact_keyword_lines[0]: 'Start with {kw}.' uses {kw}",
        ),
        (  # a number where a sentence belongs
            '    "Prioritise {kws} early.",',
            "    12,",
            "phrases.toml: compact_keyword_lines[1]: expected a non-empty string, found int 12",
        ),
        (  # a section kind the writer has no sentences for
            '["overview", ["What Is {T}?", "Understanding {T}", "The Basics of {T}"]],',
            '["overveiw", ["What Is {T}?", "Understanding {T}", "The Basics of {T}"]],',
            "phrases.toml: section_plans.educational[0][0]: 'overveiw' is not one of overview,",
        ),
        (  # a table nothing reads
            "\ngeneral = [",
            '\ngenerics = ["x"]\ngeneral = [',
            "phrases.toml: generics: no such table",
        ),
        (  # not TOML: the parser's own message, with the line
            'stand_ins = ["this work"',
            'stand_ins = "this work"',
            "phrases.toml: Expected newline or end of document after a statement (at line",
        ),
    ],
    ids=["missing-tone", "misspelt-key", "raw-placeholder", "unknown-placeholder", "number",
         "unknown-kind", "unread-table", "syntax"],
)  # fmt: skip
def test_a_malformed_phrase_table_is_refused_naming_the_file_and_key(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = edited(tmp_path, "phrases.toml", old, new)
    with pytest.raises(TableError) as refused:
        load(Phrases, path)
    assert str(refused.value).startswith(str(tmp_path / message))


def test_a_capitalised_word_in_a_word_list_is_refused_since_it_could_never_match(
    tmp_path: Path,
) -> None:
    path = edited(tmp_path, "lexicon.toml", "    android apple", "    android GitHub apple")
    with pytest.raises(TableError) as refused:
        load(Lexicon, path)
    assert str(refused.value) == f"{path}: proper_nouns: 'GitHub' is not lower case"


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(TableError) as refused:
        load(Lexicon, tmp_path / "lexicon.toml")
    assert str(refused.value).startswith(f"{tmp_path / 'lexicon.toml'}: [Errno 2]")
