"""Topic shapes: what kind of phrase a brief's topic is, and the noun phrases the writer needs.

Topics arrive as questions ("Why do sourdough starters fail?"), how-tos ("How to compost in an
apartment", "How small teams can adopt continuous delivery"), numbered lists ("7 ways to cut
cloud costs") or plain noun phrases ("Rainwater harvesting"). Sentence templates need a noun
phrase ("the essentials of {topic}"), headings a short subject in title case ("What Is {T}?"),
and the introduction the topic as a clause ("This guide shows how to compost ..."). Treating
every topic as a noun phrase gives "What Is How Small Teams Can Adopt ...?", so this module
parses the shape with closed word lists (there is no tagger) and derives each form, keeping
acronyms and proper nouns capitalised and lowercasing everything else inside sentences.
"""

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .tables import lexicon


@dataclass(frozen=True)
class Shape:
    kind: str  # question | howto | list | noun
    text: str  # the topic in sentence casing, as a reader would write it mid-paragraph
    phrase: str  # a noun phrase for templates ("adopting continuous delivery")
    plural: bool  # whether `phrase` takes a plural verb
    core: str  # the shortest phrase naming the subject, for headings ("continuous delivery")
    core_plural: bool
    clause: str  # the topic as a clause inside a sentence ("how to compost ..."); may be ""
    title: str  # the topic as a title ("How to Compost in an Apartment")
    count: int = 0  # list topics: how many items the title promises
    items: str = ""  # list topics: which bank of item headings fits (actions|mistakes|reasons)


def title_case(text: str) -> str:
    """Capitalise significant words; words with capitals of their own (AWS, iOS) stay."""
    out = []
    for index, word in enumerate(text.split()):
        if any(char.isupper() for char in word):
            out.append(word)
        elif index and word in lexicon().small_words and not out[-1].endswith((":", "?")):
            out.append(word)
        else:
            out.append(word[:1].upper() + word[1:])
    return " ".join(out)


def is_plural(words: Sequence[str]) -> bool:
    """Whether a noun phrase takes a plural verb, judged by its head noun."""
    lex = lexicon()
    head = ""
    for word in words:
        if word.lower() in lex.prepositions and head:
            break
        head = word
    bare = head.strip(".,;:!?\"'()").lower()
    if not bare or any(char.isupper() for char in head) or bare.endswith("ing"):
        return bare in lex.plural_irregular
    if bare in lex.plural_irregular:
        return True
    return bare.endswith("s") and not bare.endswith(lex.singular_in_s)


def gerund(verb: str) -> str:
    lex = lexicon()
    v = verb.lower()
    if v in lex.irregular_gerunds:
        return lex.irregular_gerunds[v]
    if v.endswith("ie"):
        return v[:-2] + "ying"
    if v.endswith(("ee", "ye", "oe")) or len(v) <= 2:
        return v + "ing"
    if v.endswith("e"):
        return v[:-1] + "ing"
    one_syllable = len(re.findall(r"[aeiou]+", v)) == 1
    if v in lex.doubled_final or (one_syllable and re.search(r"[^aeiou][aeiou][^aeiouwxy]$", v)):
        return v + v[-1] + "ing"
    return v + "ing"


def third_person(verb: str) -> str:
    lex = lexicon()
    v = verb.lower()
    if v in lex.third_person_irregular:
        return lex.third_person_irregular[v]
    if v.endswith(("s", "sh", "ch", "x", "z", "o")):
        return v + "es"
    if re.search(r"[^aeiou]y$", v):
        return v[:-1] + "ies"
    return v + "s"


def lemma(word: str) -> str | None:
    """The base form of a verb (inflected or not), or None if the word is not a known verb."""
    lex = lexicon()
    w = word.lower()
    if w in lex.verbs:
        return w
    if w in lex.irregular_past:
        return lex.irregular_past[w]
    candidates = []
    if w.endswith("ies"):
        candidates.append(w[:-3] + "y")
    if w.endswith("es"):
        candidates.append(w[:-2])
    if w.endswith("s"):
        candidates.append(w[:-1])
    if w.endswith("ing"):
        candidates += [w[:-3], w[:-3] + "e", w[:-4]]
    if w.endswith("ed"):
        candidates += [w[:-2], w[:-1], w[:-3], w[:-3] + "y" if w.endswith("ied") else ""]
    return next((c for c in candidates if c in lex.verbs), None)


def _natural(tokens: list[str], keywords: Sequence[str]) -> list[str]:
    """Sentence casing: lowercase what is only capitalised because it starts or titles the topic."""
    capitalised_elsewhere = {
        word.lower() for keyword in keywords for word in keyword.split() if word[:1].isupper()
    }
    small = lexicon().small_words
    significant = [t for t in tokens if t.lower() not in small and t[:1].isalpha()]
    title_cased = len(significant) >= 2 and all(t[:1].isupper() for t in significant)
    out = []
    for index, token in enumerate(tokens):
        bare = token.strip(".,;:!?\"'()")
        plain_capital = bare[:1].isupper() and bare[1:] == bare[1:].lower()
        lowercase = plain_capital and (index == 0 or title_cased) and bare != "I"
        if lowercase and bare.lower() not in lexicon().proper_nouns | capitalised_elsewhere:
            token = token.lower()
        out.append(token)
    return out


def _bare(tokens: Sequence[str]) -> list[str]:
    return [t.strip(".,;:!?\"'()").lower() for t in tokens]


def _swap_possessives(tokens: Sequence[str]) -> list[str]:
    return [lexicon().possessive_swap.get(t.lower(), t) for t in tokens]


def _split_subject(tokens: list[str], aux: str) -> tuple[list[str], list[str]]:
    """(subject, predicate) of the words after an auxiliary: "sourdough starters | fail"."""
    lex = lexicon()
    low = _bare(tokens)
    if not tokens:
        return [], []
    if low[0] in lex.pronouns:
        return tokens[:1], tokens[1:]
    for k in range(1, len(tokens)):
        if low[k - 1] in lex.determiners:
            continue  # "the test suite": a word after a determiner is not the verb
        if aux in lex.be and (low[k] in lex.predicate_starters or low[k].endswith("ing")):
            return tokens[:k], tokens[k:]
        if aux not in lex.be and low[k] in lex.verbs:
            return tokens[:k], tokens[k:]
    if len(tokens) >= 2:
        return tokens[:-1], tokens[-1:]
    return tokens, []


def _split_verb_phrase(tokens: list[str]) -> tuple[str, list[str], list[str]]:
    """(verb, object, rest) of a verb phrase: "cut | our AWS bill | by 40%"."""
    verb = lemma(tokens[0]) or tokens[0].lower()
    low = _bare(tokens)
    end = next((i for i in range(1, len(tokens)) if low[i] in lexicon().prepositions), len(tokens))
    return verb, tokens[1:end], tokens[end:]


def _strip_determiner(tokens: list[str]) -> list[str]:
    if len(tokens) > 1 and tokens[0].lower() in lexicon().determiners:
        article = tokens[0].lower() in ("a", "an", "the")
        return tokens if article else ["the", *tokens[1:]]
    return tokens


def _verb_forms(pred: list[str]) -> tuple[str, str, bool]:
    """(gerund phrase, core, core plural) of a verb-first predicate."""
    verb, obj, rest = _split_verb_phrase(pred)
    phrase = " ".join([gerund(verb), *_swap_possessives(pred[1:])])
    if obj:
        core_tokens = _strip_determiner(list(obj))
        return phrase, " ".join(core_tokens), is_plural(core_tokens)
    return phrase, gerund(verb), False


def _noun_forms(tokens: list[str]) -> tuple[str, bool, str, bool]:
    """(phrase, plural, core, core plural) of a noun phrase, unwrapping guides and aspects."""
    lex = lexicon()
    low = " ".join(_bare(tokens))
    for wrapper in lex.guide_wrappers:
        if low.startswith(wrapper + " ") and len(low) > len(wrapper) + 2:
            inner = tokens[len(wrapper.split()) :]
            return _noun_forms(inner)
    words = _bare(tokens)
    start = 1 if words and words[0] in ("the", "a", "an") else 0
    if (
        len(words) > start + 2
        and words[start] in lex.aspect_heads
        and words[start + 1]
        in (
            "of",
            "for",
        )
    ):
        inner = tokens[start + 2 :]
        return " ".join(tokens), is_plural(tokens), " ".join(inner), is_plural(inner)
    text = " ".join(tokens)
    plural = is_plural(tokens)
    return text, plural, text, plural


def _question(tokens: list[str], low: list[str]) -> tuple[str, bool, str, bool, str]:
    """(phrase, plural, core, core plural, clause) of a question."""
    lex = lexicon()
    wh = low[0] if low[0] in lex.question_words else ""
    rest, rlow = (tokens[1:], low[1:]) if wh else (tokens, low)
    wh_noun: list[str] = []
    if wh in ("what", "which", "whose") and rlow and rlow[0] not in lex.auxiliaries:
        cut = next((i for i, w in enumerate(rlow) if w in lex.auxiliaries), len(rlow))
        wh_noun, rest, rlow = rest[:cut], rest[cut:], rlow[cut:]
    quantity = wh == "how" and bool(rlow) and rlow[0] in ("much", "many", "long", "often", "far")
    if quantity:
        wh_noun, rest, rlow = [], rest[1:], rlow[1:]
        wh = f"how {low[1]}"
    aux = rlow[0] if rlow and rlow[0] in lex.auxiliaries else ""
    if not aux and wh == "who" and rest and lemma(rest[0]):
        phrase, core, core_plural = _verb_forms(rest)
        text = " ".join(rest[1:]) or phrase
        return text, is_plural(rest[1:]), core, core_plural, ""
    if wh in ("what", "who") and aux in lex.be:
        subject, pred = rest[1:], []  # "What is X?": everything after the verb is X
    else:
        subject, pred = _split_subject(rest[1:] if aux else rest, aux or "do")
    pronoun = bool(subject) and subject[0].lower() in lex.pronouns
    verb_pred = bool(pred) and aux not in lex.be and bool(lemma(pred[0]))
    subj_text = " ".join(_swap_possessives(subject))
    clause = _clause(" ".join([wh, *wh_noun]).strip(), aux, subject, pred, pronoun)
    if wh_noun:
        noun = " ".join(wh_noun)
        if pronoun and verb_pred:
            phrase = f"{gerund(lemma(pred[0]) or pred[0])} the right {noun}"
        else:
            phrase = " ".join(["the", noun, subj_text, *pred]).strip()
        return phrase, is_plural(wh_noun), noun, is_plural(wh_noun), clause
    if wh == "what" and aux in lex.be and subject:
        whole = subject + pred
        lowered = " ".join(_bare(whole))
        way = re.match(r"(?:the|a) (?:best |right |easiest |simplest |fastest )?ways? to ", lowered)
        if way and len(whole) > len(way.group(0).split()):
            phrase, core, core_plural = _verb_forms(whole[len(way.group(0).split()) :])
            return phrase, False, core, core_plural, clause
        phrase, plural, core, core_plural = _noun_forms(whole)
        return phrase, plural, core, core_plural, clause
    if verb_pred and not quantity and (pronoun or (wh == "how" and aux not in lex.be)):
        phrase, core, core_plural = _verb_forms(pred)
        if wh == "how" and lemma(pred[0]) == "work" and len(pred) == 1 and not pronoun:
            return subj_text, is_plural(subject), subj_text, is_plural(subject), clause
        return phrase, False, core, core_plural, clause
    if verb_pred:
        _, obj, _ = _split_verb_phrase(pred)
        if obj and wh != "where":
            obj_tokens = _strip_determiner(list(obj))
            text = " ".join(_swap_possessives(obj))
            return text, is_plural(obj), " ".join(obj_tokens), is_plural(obj_tokens), clause
    if subject and not pronoun:
        core_tokens = _strip_determiner(list(subject))
        text = subj_text
        return text, is_plural(subject), " ".join(core_tokens), is_plural(core_tokens), clause
    phrase, core, core_plural = _verb_forms(pred) if pred else (" ".join(tokens), "", False)
    return phrase, False, core or phrase, core_plural, clause


def _clause(wh: str, aux: str, subject: list[str], pred: list[str], pronoun: bool) -> str:
    """The question as an embedded clause ("why sourdough starters fail"), or "" when the
    verb would need a past tense this module cannot form."""
    lex = lexicon()
    if not subject or aux == "did" or (wh in ("who", "which", "whose") and not pronoun):
        return ""
    lead = wh or "whether"
    subj = " ".join(subject)
    if wh and wh != "why" and pronoun and aux in lex.modals | lex.do and pred:
        return " ".join([wh, "to", *pred])  # "How do I compost?" -> "how to compost"
    if aux in lex.do:
        if not pred:
            return ""
        verb = third_person(pred[0]) if aux == "does" else pred[0]
        return " ".join([lead, subj, verb, *pred[1:]])
    return " ".join(part for part in [lead, subj, aux, *pred] if part)


def _list(tokens: list[str], low: list[str]) -> Shape | None:
    lex = lexicon()
    start = 0
    if low[start : start + 1] == ["the"]:
        start += 1
    if low[start : start + 1] == ["top"]:
        start += 1
    if start >= len(low):
        return None
    word = low[start]
    count = int(word) if word.isdigit() else lex.number_words.get(word, 0)
    if low[start : start + 2] == ["a", "dozen"]:
        count, start = 12, start + 1
    if not 2 <= count <= 30:
        return None
    head_at = next(
        (i for i in range(start + 1, min(len(low), start + 5)) if is_plural([low[i]])), None
    )
    if head_at is None:
        return None
    head, rest, rlow = low[head_at], tokens[head_at + 1 :], low[head_at + 1 :]
    items = "mistakes" if head in lex.mistake_heads else ""
    items = items or ("reasons" if head in lex.reason_heads else "")
    phrase_tokens = tokens[start + 1 :]
    phrase, plural = " ".join(phrase_tokens), True
    core, core_plural = phrase, True
    if rlow[:1] == ["to"] and len(rest) > 1 and lemma(rest[1]):
        verb, obj, after = _split_verb_phrase(rest[1:])
        if obj:
            phrase, core, core_plural = _verb_forms(rest[1:])
            plural = False
        elif len(after) > 1:
            phrase = core = " ".join(after[1:])
            plural = core_plural = is_plural(after[1:])
    elif (
        rlow[:1] and rlow[0] in ("of", "for", "on", "about", "with", "from", "in") and len(rest) > 1
    ):
        phrase = core = " ".join(rest[1:])
        plural = core_plural = is_plural(rest[1:])
    return Shape(
        kind="list",
        text="",
        phrase=phrase,
        plural=plural,
        core=core,
        core_plural=core_plural,
        clause="",
        title="",
        count=count,
        items=items or "actions",
    )


@functools.lru_cache(maxsize=512)
def shape_of(topic: str, keywords: tuple[str, ...] = ()) -> Shape:
    """The shape of a topic and its derived phrases; deterministic, never raises."""
    lex = lexicon()
    raw = " ".join(topic.split()).strip()
    asked = raw.endswith("?")
    tokens = _natural(raw.rstrip(" ?!.").split() or ["this", "subject"], keywords)
    text = " ".join(tokens)
    low = _bare(tokens)
    if low[0] in lex.contracted:  # parse "What's X" as "What is X", but keep the reader's wording
        wh, verb = lex.contracted[low[0]]
        tokens, low = [wh, verb, *tokens[1:]], [wh, verb, *low[1:]]
    listed = _list(tokens, low)
    if listed:
        return _finish(listed, text, asked)
    if not asked and low[0] == "how" and len(low) > 2:
        forms = _howto(tokens, low)
        if forms is None:
            phrase, plural, core, core_plural, _ = _question(tokens, low)
            forms = (phrase, plural, core, core_plural)
        return _finish(Shape("howto", "", *forms[:2], *forms[2:], text, ""), text, asked)
    imperative = (
        len(low) > 1
        and low[0] in lex.verbs
        and (low[1] in lex.determiners | lex.prepositions or low[1] in lex.possessive_swap)
    )
    if imperative and not asked:
        phrase, core, core_plural = _verb_forms(tokens)
        clause = "how to " + text[:1].lower() + text[1:]
        return _finish(
            Shape("howto", "", phrase, False, core, core_plural, clause, ""), text, asked
        )
    if asked or low[0] in lex.question_words or low[0] in lex.auxiliaries:
        phrase, plural, core, core_plural, clause = _question(tokens, low)
        shape = Shape("question", "", phrase, plural, core, core_plural, clause, "")
        return _finish(shape, text, True)
    phrase, plural, core, core_plural = _noun_forms(tokens)
    return _finish(Shape("noun", "", phrase, plural, core, core_plural, "", ""), text, asked)


def _howto(tokens: list[str], low: list[str]) -> tuple[str, bool, str, bool] | None:
    """Forms of "How to X" and "How <someone> <can> X" statements; None if no verb is found."""
    lex = lexicon()
    if low[1] == "to":
        phrase, core, core_plural = _verb_forms(tokens[2:])
        return phrase, False, core, core_plural
    auxiliaries = lex.modals | lex.do | lex.be
    k = next((i for i in range(2, len(low)) if low[i] in auxiliaries or lemma(low[i])), None)
    if k is None:
        return None
    subject = tokens[1:k]
    pred = tokens[k + 1 :] if low[k] in auxiliaries else [lemma(low[k]) or low[k], *tokens[k + 1 :]]
    if low[k] not in auxiliaries and pred == ["work"]:  # "How DNS works" is about DNS
        return " ".join(subject), is_plural(subject), " ".join(subject), is_plural(subject)
    if not pred or not lemma(pred[0]):
        return None
    phrase, core, core_plural = _verb_forms([lemma(pred[0]) or pred[0], *pred[1:]])
    if low[k] in lex.be and core != gerund(lemma(pred[0]) or pred[0]):
        return core, core_plural, core, core_plural  # "How AI is changing testing": testing
    return phrase, False, core, core_plural


def _finish(shape: Shape, text: str, asked: bool) -> Shape:
    if shape.kind == "question" or asked:
        text = text.rstrip("?") + "?"
    phrase = shape.phrase.strip() or text
    return replace(
        shape,
        text=text,
        phrase=phrase,
        core=shape.core.strip() or phrase,
        clause=shape.clause or ("" if shape.kind != "howto" else text),
        title=title_case(text[:1].upper() + text[1:]),
    )


def agree(heading: str, plural: bool) -> str:
    """Make a heading's verb agree with a plural subject: "What Is" -> "What Are"."""
    if not plural:
        return heading
    heading = re.sub(r"^What Is\b", "What Are", heading)
    heading = re.sub(r"\b(Matters|Works|Needs)\b", lambda m: m.group(1)[:-1], heading)
    return re.sub(r"\bIs Heading\b", "Are Heading", heading)
