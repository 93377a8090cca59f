"""Full-text search of published posts, as djangoproject.com searches its docs: the
stored, weighted `Post.search_vector` (GIN index), `websearch` queries ranked by
`SearchRank`, and `SearchHeadline` snippets computed for the page of results only.

- Syntax: what a search box takes (`"a phrase"`, `or`, `-excluded`), never an error;
  the last word also matches as a prefix, so `compos` finds compost while typing.
- Typos: a query that finds nothing is tried again with its unknown words corrected,
  and the page says which query it shows (`corrected`). With pg_trgm (and the
  `SEARCH_TRIGRAM` setting not False) the candidates are the words of titles
  trigram-similar to the word, found through the `post_title_trgm` index; without it, or
  when titles offer nothing, they are the lexemes of the published posts (`ts_stat`,
  cached in the `query` tier). Either way the closest by edit distance (rapidfuzz's
  optimal string alignment, so a swapped pair costs one edit) within a few edits wins.
- Safety: user text reaches PostgreSQL only as parameters; the snippet is HTML with
  the matches in `<mark>` and everything else escaped (the body is Markdown written
  by a model: a `<script>` in it shows as text).
- Cost: ranking reads the vector of every candidate (stored in the row, not in TOAST,
  to make that cheap), so a query ranks at most its MAX_RANKED (500) newest matches,
  looked for in recent spans of time first; the total is exact below that and
  PostgreSQL's estimate above. Matches in many posts are found by walking the newest
  posts and testing each one, since the GIN index would read the words' whole entries;
  matches in few posts through the index (_candidates). The vectors' index cannot tell
  whether a phrase's words are side by side, so a query of phrases goes through the
  index of each post's word pairs (`post_word_pairs`), which also makes its estimate
  that of the phrase rather than of its words. Answers are cached in the `query` tier
  under the content version, keyed by a hash of the query, limit and offset.
"""

import hashlib
import json
import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db import connection, transaction
from django.db.models import BooleanField, DateTimeField, ExpressionWrapper, F, Func, Value
from django.db.models.functions import Replace
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString
from rapidfuzz import process
from rapidfuzz.distance import OSA

from contentpipeline.cache import tier_get_or_set
from contentpipeline.errors import ApplicationError
from tasks.pipeline.text import strip_markdown

from .models import WORD_PAIRS, Post

logger = logging.getLogger(__name__)

CONFIG = "english"
MIN_QUERY_LENGTH = 2
MAX_QUERY_LENGTH = 200
MAX_LIMIT = 100
MAX_OFFSET = 1_000_000_000
# A fallback corrects at most this many distinct words (a query may be 200 characters).
MAX_CORRECTED_WORDS = 8
# Trigram word similarity from which a title is a candidate (pg_trgm's own default for
# `%`; its default for `<%`, 0.6, misses a swapped pair of letters in a short word).
TRIGRAM_THRESHOLD = 0.3
# Matches ranked for one query: the newest ones when more posts match (_candidates).
MAX_RANKED = 500
# How many more matches than MAX_RANKED the first span of recent posts should hold.
WINDOW_MARGIN = 1.5
# What reading a GIN index costs per post its entries hold, beside walking past a post
# (measured on 100,000 posts): a word's entry holds its matches (a prefix's, those of
# every lexeme it starts); the entries of several words can each be far longer than
# the posts with all of them; a phrase's word pairs hold hardly more than its matches.
ENTRY_COST = 0.3
ENTRY_COST_WORDS = 1.0
ENTRY_COST_PAIRS = 0.15
# What narrowing the GIN's matches to a span through the published_at index costs per
# post of the span, beside reading a match (measured on 100,000 posts).
WINDOW_POST_COST = 0.06
# Posts per match still wanted in a walked span: a walk's first span, which finds out
# how dense the matches are, and the least any holds.
WALK_SPAN = 6
ZERO = Value(timedelta(0))
# Lexemes of published posts the spelling fallback knows (the most frequent ones).
MAX_VOCABULARY = 100_000
# The cached answers' format: bump it when SearchPage or the snippets change shape.
KEY_VERSION = 1

# Snippet markers: private-use characters no text means to contain (they are removed
# from the body before ts_headline runs). "<" is swapped for one too, since the text
# search parser drops whatever looks like an HTML tag from a headline, and a reader
# should see a `<script>` in a post as the text it is.
START, STOP, LT = "\ue002", "\ue003", "\ue000"
_MARKED = re.compile(f"{START}(.*?){STOP}", re.DOTALL)
_SPACES = re.compile(r"\s+")
# A word as the spelling fallback and the prefix match see it: letters and digits only,
# so it is a valid tsquery operand inside quotes whatever it is.
_WORD = re.compile(r"[^\W_]+")
# A query of quoted phrases only, of plain words: every phrase is required as it is
# written, so a post must hold each pair of its words side by side (post_word_pairs).
_PHRASES = re.compile(r'"[^\W_]+(?: [^\W_]+)+"(?: "[^\W_]+(?: [^\W_]+)+")*')
# Suffixes the English stemmer removes, as a half-typed word may show their start.
_SUFFIXES = (
    "ation", "ational", "ative", "ator", "ement", "ment", "ness", "ability", "ibility",
    "able", "ible", "ance", "ence", "ing", "ingly", "edly", "ed", "er", "ly", "ity",
    "ive", "ous", "ism", "ist", "ful", "less", "al", "ally", "ical", "ise", "ize", "es",
)  # fmt: skip
# ts_stat's query: the published posts' vectors. A constant (no user text): it mirrors
# PostQuerySet.published().
_VOCABULARY_SQL = """
    SELECT word, ndoc FROM ts_stat(
        'SELECT search_vector FROM publishing_post
         WHERE published_at <= now() AND unpublished_at IS NULL'
    )
    WHERE length(word) BETWEEN 3 AND 40 AND word ~ '^[[:alpha:]]+$'
    ORDER BY ndoc DESC, word
    LIMIT %s
"""
# The published posts' time span (it mirrors PostQuerySet.published()), and the rows
# of the table as the planner reckons them: its statistics scaled to the table's size.
_SPAN_SQL = """
    SELECT max(published_at), min(published_at), (
        SELECT reltuples / relpages * (pg_relation_size(oid) / current_setting('block_size')::int)
        FROM pg_class WHERE oid = %s::regclass AND relpages > 0
    )
    FROM publishing_post WHERE published_at <= %s AND unpublished_at IS NULL
"""
# The pairs of lexemes side by side in each phrase, as the posts' index holds them.
_PAIRS_SQL = """
    SELECT publishing_word_pairs(to_tsvector(%s::regconfig, phrase))
    FROM unnest(%s::text[]) AS phrase
"""
_LEXEMES_SQL = """
    SELECT word, ARRAY(SELECT lexeme FROM unnest(to_tsvector(%s::regconfig, word)))
    FROM unnest(%s::text[]) AS word
"""


class InvalidSearch(ApplicationError):
    """A query too short or too long to search for (400)."""


@dataclass(frozen=True)
class SearchResult:
    slug: str
    title: str
    excerpt: str
    # HTML: the matched words in <mark>, everything else escaped.
    headline: SafeString
    rank: float
    published_at: datetime


@dataclass(frozen=True)
class SearchPage:
    results: list[SearchResult]
    total: int
    query: str
    # The query the results are for when the one asked found nothing, else None.
    corrected: str | None = None
    # More than MAX_RANKED posts match: `total` is PostgreSQL's estimate, and the
    # results are the best of the newest MAX_RANKED matches (the pages go that far).
    estimated: bool = False


def clean_query(query: str) -> str:
    """The query as searched: NUL bytes dropped (PostgreSQL text cannot hold them),
    whitespace collapsed. Raises InvalidSearch unless it has 2..200 characters."""
    text = _SPACES.sub(" ", (query or "").replace("\x00", "")).strip()
    if len(text) < MIN_QUERY_LENGTH:
        raise InvalidSearch(f"Search for at least {MIN_QUERY_LENGTH} characters.")
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidSearch(f"Search for at most {MAX_QUERY_LENGTH} characters.")
    return text


def post_search(*, query: str, limit: int = 10, offset: int = 0) -> SearchPage:
    """Published posts matching `query` (web search syntax), best match first, then
    newest: the page at `offset` of at most `limit` (1..100) results, `total` matches
    in all. Past MAX_RANKED matches, the newest MAX_RANKED are ranked and `total` is an
    estimate (`estimated`). When nothing matches, the query with its unknown words
    corrected is run instead and `corrected` says so. Raises InvalidSearch (400) for a
    query of fewer than 2 or more than 200 characters; any other text is safe to pass."""
    text = clean_query(query)
    limit = max(1, min(int(limit), MAX_LIMIT))
    offset = max(0, min(int(offset), MAX_OFFSET))
    digest = hashlib.sha256(json.dumps([text, limit, offset]).encode()).hexdigest()
    return tier_get_or_set(
        "query", f"post-search:{KEY_VERSION}:{digest}", lambda: _search(text, limit, offset)
    )


def _search(text: str, limit: int, offset: int) -> SearchPage:
    page = _full_text(text, limit, offset)
    if page.total:
        return page
    corrected = _corrected(text)
    if corrected is None:
        return page
    found = _full_text(corrected, limit, offset)
    return replace(found, query=text, corrected=corrected) if found.total else page


# --- Full text ---------------------------------------------------------------------------


def _search_query(text: str) -> SearchQuery | None:
    """The tsquery of `text`, or None when it asks for nothing (only exclusions, only
    punctuation): `-word` alone would match nearly every post."""
    positive = [
        token
        for token in text.split()
        if not token.startswith("-") and token.lower() != "or" and _WORD.search(token)
    ]
    if not positive:
        return None
    # With a last word to complete, the prefix query finds all the plain one would
    # (and more): the two together would only double PostgreSQL's estimate.
    prefix = _prefix_query(text)
    if prefix is not None:
        return prefix
    return SearchQuery(text, search_type="websearch", config=CONFIG)


def prefix_stems(word: str) -> list[str]:
    """`word` and the shorter stems it may be a partial form of: the vectors hold
    stems (`fermentation` is `ferment`), so `fermentat`, half typed, must also look
    for `ferment`. A cut is where what follows is the start of a suffix the English
    stemmer removes; it leaves at least four letters."""
    stems = [word]
    for suffix in _SUFFIXES:
        for length in range(1, min(len(suffix), 4) + 1):
            if len(word) - length >= 4 and word.lower().endswith(suffix[:length]):
                stems.append(word[:-length])
    return list(dict.fromkeys(stems))


def _prefix_query(text: str) -> SearchQuery | None:
    """The query with its last word as a prefix (`... & 'compo':*`), for a word
    still being typed. Only a bare last word outside any quotes qualifies. Each raw
    tsquery holds nothing but letters and digits of that word, quoted, and PostgreSQL
    reduces it to its lexemes with the same config as the vectors."""
    tokens = text.split()
    # `word*` asks for the prefix outright: the star is the usual way to say so.
    last = tokens[-1].removesuffix("*")
    if text.count('"') % 2 or not _WORD.fullmatch(last) or last.lower() == "or":
        return None
    term = None
    for stem in prefix_stems(last):
        prefix = SearchQuery(f"'{stem}':*", search_type="raw", config=CONFIG)
        term = prefix if term is None else term | prefix
    head = tokens[:-1]
    either = bool(head) and head[-1].lower() == "or"
    if either:
        head = head[:-1]
    if not head:
        return term
    rest = SearchQuery(" ".join(head), search_type="websearch", config=CONFIG)
    return rest | term if either else rest & term


def _full_text(text: str, limit: int, offset: int) -> SearchPage:
    search = _search_query(text)
    if search is None:
        return SearchPage(results=[], total=0, query=text)
    pairs = _phrase_pairs(text)
    if pairs:
        # Any one pair a phrase needs bounds its matches, far closer than its words.
        matches = Post.objects.published().alias(pairs=WORD_PAIRS).filter(pairs__contains=pairs[:1])
    else:
        matches = Post.objects.published().filter(search_vector=search)
    estimate = estimated_count(matches)
    candidates = _candidates(search, estimate, pairs, _entry_cost(text, pairs))
    estimated = len(candidates) >= MAX_RANKED
    total = max(len(candidates), estimate) if estimated else len(candidates)
    # Best first: the candidates come newest first, and the sort keeps that order
    # among equals.
    candidates.sort(key=lambda row: -row[1])
    ranked = candidates[offset : offset + limit]
    if not ranked:
        return SearchPage(results=[], total=total, query=text, estimated=estimated)
    # The headlines, the costly part, for this page only.
    posts = {
        post["pk"]: post
        for post in Post.objects.filter(pk__in=[pk for pk, _ in ranked])
        .order_by()
        .annotate(headline=_headline(search))
        .values("pk", "slug", "title", "excerpt", "published_at", "headline")
    }
    results = [
        SearchResult(
            slug=posts[pk]["slug"],
            title=posts[pk]["title"],
            excerpt=posts[pk]["excerpt"],
            headline=render_headline(posts[pk]["headline"]),
            rank=round(float(rank), 6),
            published_at=posts[pk]["published_at"],
        )
        for pk, rank in ranked
        if pk in posts
    ]
    return SearchPage(results=results, total=total, query=text, estimated=estimated)


def _candidates(
    search: SearchQuery, estimate: int, pairs: list[str], entry_cost: float
) -> list[tuple]:
    """(pk, rank) of the newest MAX_RANKED matches, newest first (all of them when
    fewer): the posts ranked.

    Both the newest-first cut and the rank read the row of each match visited, so a
    word in half of the posts must not make the query visit half of the table. When
    PostgreSQL expects more than MAX_RANKED matches, they are looked for among recent
    posts first: a span of time that should hold WINDOW_MARGIN times as many, then the
    span before it, as large as what the first held suggests, and so on (the spans do
    not overlap: a post is read once). Each span is searched the cheaper of two ways
    (_span_rows): walking its posts newest first and testing each one, or through a
    GIN index: that of the phrases' word pairs for a query of phrases (`pairs`), else
    that of the vectors, whose entries cost `entry_cost` a post they hold (_walk_pays)."""
    published = Post.objects.published()
    if estimate <= MAX_RANKED:
        return list(_span_rows(published, search, walk=False, pairs=pairs)[:MAX_RANKED])
    span = _published_span()
    if span is None:
        return []
    newest, oldest, posts = span
    # Matches per share of the time span: PostgreSQL's estimate at first (for a phrase,
    # that of its words or of one of its word pairs, an upper bound), then what the
    # spans searched held, a count rather than an estimate, so with less to spare.
    rate, margin = float(estimate), WINDOW_MARGIN
    found: list[tuple] = []
    searched, upper = 0.0, None  # the share searched, back from the newest post
    while True:
        need = MAX_RANKED - len(found)
        walk = posts is not None and _walk_pays(posts, need, rate, estimate * entry_cost)
        reach = margin * MAX_RANKED / rate
        if walk:
            # A walk stops at its LIMIT, so a wide span costs nothing while matches are
            # dense; but the first one holds WALK_SPAN posts a match wanted whatever
            # the estimate, as a phrase or a prefix may match far fewer posts than
            # PostgreSQL expects: it finds out how dense they are. (PostgreSQL only
            # walks a span where it expects the LIMIT's worth of matches, taking a
            # third of the posts to pass.)
            reach = max(reach if searched else 0.0, searched + WALK_SPAN * need / posts)
        elif posts is not None and reach < 1:
            # The published_at index narrows the GIN's matches to the span at a cost
            # per post of the span; past some share, reading the matches beyond it
            # costs less.
            span_cost = WINDOW_POST_COST * (reach - searched) * posts
            reach = reach if span_cost < (1 - reach) * rate else 1.0
        rows = published if upper is None else published.filter(published_at__lt=upper)
        if reach >= 1:
            return found + list(_span_rows(rows, search, walk=walk, pairs=pairs)[:need])
        since = newest - (newest - oldest) * reach
        rows = rows.filter(published_at__gte=since)
        found += _span_rows(rows, search, walk=walk, pairs=pairs)[:need]
        if len(found) >= MAX_RANKED:
            return found
        searched, upper = reach, since
        # From now on a count rather than an estimate, so with less to spare (and at
        # most twenty times further back when the spans held nothing).
        rate, margin = max(len(found), MAX_RANKED / 16) / searched, 1.25


def _span_rows(posts, search: SearchQuery, *, walk: bool, pairs: list[str]):
    """(pk, rank) of the matches among `posts`, newest first. Walking, PostgreSQL goes
    down the published_at index testing each post (ts_match_vq, which no index can
    answer) and stops at the LIMIT: about LIMIT / density posts read. Otherwise it
    reads a GIN index, whose cost is the length of the entries it reads whatever the
    span, then the posts found: with `pairs`, those holding the phrases' words side by
    side (the phrase itself is tested on each, never on the posts that merely hold its
    words), else the matches of the vectors' index; an order the published_at index
    cannot give keeps PostgreSQL there (for a phrase, it expects its words anywhere,
    often ten times too many matches, and would walk)."""
    matches = Func(F("search_vector"), search, function="ts_match_vq", output_field=BooleanField())
    newest: Any = ExpressionWrapper(F("published_at") + ZERO, output_field=DateTimeField()).desc()
    if walk:
        rows = posts.filter(matches)
        newest = F("published_at").desc()
    elif pairs:
        rows = posts.alias(pairs=WORD_PAIRS).filter(pairs__contains=pairs).filter(matches)
    else:
        rows = posts.filter(search_vector=search)
    return (
        rows.annotate(rank=SearchRank(F("search_vector"), search))
        .order_by(newest, F("pk").desc())
        .values_list("pk", "rank")
    )


def _walk_pays(posts: float, need: int, rate: float, entries: float) -> bool:
    """Whether walking the newest of `posts` to find `need` more matches, `rate` of them
    in the whole time span, costs less than reading index entries worth `entries` posts
    and then the matches of a span that should hold WINDOW_MARGIN times as many."""
    return posts * need / rate < entries + WINDOW_MARGIN * need


def _entry_cost(text: str, pairs: list[str]) -> float:
    """What the entries of the GIN index that answers `text` cost, a post they hold
    (see ENTRY_COST)."""
    if pairs:
        return ENTRY_COST_PAIRS
    words = [token for token in text.split() if _WORD.search(token)]
    if len(words) > 1 and not any(word.lower() == "or" for word in words):
        return ENTRY_COST_WORDS
    return ENTRY_COST


def _phrase_pairs(text: str) -> list[str]:
    """For a query of quoted phrases only, the pairs of lexemes side by side that a
    post must hold (none for a phrase whose words are all apart: "state of the art"
    keeps only 'state' and 'art'); for any other query, none."""
    if not _PHRASES.fullmatch(text):
        return []
    with connection.cursor() as cursor:
        cursor.execute(_PAIRS_SQL, [CONFIG, text.split('"')[1::2]])
        return list(dict.fromkeys(pair for (found,) in cursor.fetchall() for pair in found))


def _published_span() -> tuple[datetime, datetime, float | None] | None:
    """The newest and oldest publication times of the published posts and how many
    posts PostgreSQL's statistics say the table holds (None before they were
    gathered, or when they saw none), or None when nothing is published."""
    with connection.cursor() as cursor:
        cursor.execute(_SPAN_SQL, [Post._meta.db_table, timezone.now()])
        newest, oldest, posts = cursor.fetchone()
    if newest is None:
        return None
    return newest, oldest, posts or None


def estimated_count(queryset) -> int:
    """PostgreSQL's estimate of the rows `queryset` finds (from its statistics of the
    vectors' lexemes), at the cost of planning the query."""
    # Neither the columns nor an order change the count: without them the query is
    # quicker to write and to plan.
    plan = json.loads(queryset.values("pk").order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def _headline(search: SearchQuery) -> SearchHeadline:
    body = Replace(
        Replace(Replace(F("body_markdown"), Value(START), Value("")), Value(STOP), Value("")),
        Value("<"),
        Value(LT),
    )
    return SearchHeadline(
        body, search, config=CONFIG, start_sel=START, stop_sel=STOP, min_words=15, max_words=35
    )


def render_headline(raw: str | None) -> SafeString:
    """ts_headline's text as HTML: Markdown syntax dropped, the matches (between the
    private markers) in <mark>, every other character escaped."""
    text = _SPACES.sub(" ", strip_markdown(raw or "")).strip()
    pieces: list[str] = []
    position = 0
    for match in _MARKED.finditer(text):
        pieces.append(_escaped(text[position : match.start()]))
        pieces.append(format_html("<mark>{}</mark>", _plain(match.group(1))))
        position = match.end()
    pieces.append(_escaped(text[position:]))
    return format_html_join("", "{}", ((piece,) for piece in pieces))


def _plain(text: str) -> str:
    return text.replace(START, "").replace(STOP, "").replace(LT, "<")


def _escaped(text: str) -> SafeString:
    return escape(_plain(text))


# --- Typo fallback -----------------------------------------------------------------------

_trigram_checked: dict[tuple[str, str], bool] = {}


def trigram_available() -> bool:
    """Whether the typo fallback may use pg_trgm: the SEARCH_TRIGRAM setting (default
    True) allows it and the database has the extension (asked once per process and
    database; the answer is logged when it is no)."""
    if not getattr(settings, "SEARCH_TRIGRAM", True):
        return False
    key = (connection.alias, str(connection.settings_dict["NAME"]))
    if key not in _trigram_checked:
        with connection.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')")
            _trigram_checked[key] = bool(cursor.fetchone()[0])
        if not _trigram_checked[key]:
            logger.warning(
                "pg_trgm is not installed in database %s: search corrects typos from the "
                "posts' own words (ts_stat and rapidfuzz) instead of trigram similarity "
                "on titles",
                key[1],
            )
    return _trigram_checked[key]


def max_edits(word: str) -> int:
    """How far a correction may be from a word: none for 3 letters or fewer."""
    if len(word) <= 3:
        return 0
    return 1 if len(word) <= 5 else 2


def _corrected(text: str) -> str | None:
    """`text` with each word no published post contains replaced by the closest word
    that some do, or None when no word could be corrected."""
    words = list(dict.fromkeys(word.lower() for word in _WORD.findall(text)))
    words = [word for word in words if word != "or" and max_edits(word)]
    if not words:
        return None
    words = words[:MAX_CORRECTED_WORDS]
    with connection.cursor() as cursor:
        cursor.execute(_LEXEMES_SQL, [CONFIG, words])
        lexemes = {word: found for word, found in cursor.fetchall()}
    corrections: dict[str, str] = {}
    for word in words:
        if not lexemes.get(word) or _known(word):  # a stop word, or found as it is
            continue
        better = _title_correction(word) if trigram_available() else None
        better = better or _vocabulary_correction(lexemes[word][0])
        if better and better != word:
            corrections[word] = better
    if not corrections:
        return None
    return _WORD.sub(lambda match: corrections.get(match[0].lower(), match[0]), text)


def _known(word: str) -> bool:
    search = SearchQuery(word, search_type="plain", config=CONFIG)
    return Post.objects.published().filter(search_vector=search).exists()


def _closest(word: str, candidates: list[str]) -> str | None:
    """The candidate fewest edits away (within max_edits), the first one on a tie."""
    found = process.extract(
        word, candidates, scorer=OSA.distance, score_cutoff=max_edits(word), limit=None
    )
    if not found:
        return None
    return min(found, key=lambda hit: (hit[1], hit[2]))[0]


def _title_correction(word: str) -> str | None:
    """The closest word in titles trigram-similar to `word` (the GIN trigram index
    finds them). Any fifty will do: each has a word close to this one, and ranking
    every similar title costs what a common word has titles."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)",
            [str(TRIGRAM_THRESHOLD)],
        )
        titles = list(
            Post.objects.published()
            .filter(title__trigram_word_similar=word)
            .order_by()
            .values_list("title", flat=True)[:50]
        )
    candidates = list(
        dict.fromkeys(found.lower() for title in titles for found in _WORD.findall(title))
    )
    return _closest(word, candidates)


def _vocabulary() -> list[str]:
    """The published posts' lexemes, most frequent first. Computing it reads every
    vector, so it is cached, outside the content version: a word published in the
    last half hour is missing from suggestions, nothing worse."""

    def compute() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute(_VOCABULARY_SQL, [MAX_VOCABULARY])
            return [word for word, _ndoc in cursor.fetchall()]

    return tier_get_or_set("query", "post-search:vocabulary", compute, versioned=False)


def _vocabulary_correction(lexeme: str) -> str | None:
    """The lexeme of the posts closest to the word's own (stems compared with stems;
    the more frequent wins a tie)."""
    return _closest(lexeme, _vocabulary())


SIMILAR_WORDS = 12


def post_similar(*, post: Post, exclude: list, limit: int) -> list[Post]:
    """Published posts most like `post` by its title's and tags' words (any of them,
    ranked), leaving out the ids in `exclude`: the related posts after shared tags."""
    words = re.findall(r"\w{3,}", f"{post.title} {' '.join(post.tags)}")
    words = list(dict.fromkeys(word.lower() for word in words))[:SIMILAR_WORDS]
    if not words:
        return []
    search = SearchQuery(words[0], config=CONFIG, search_type="plain")
    for word in words[1:]:
        search |= SearchQuery(word, config=CONFIG, search_type="plain")
    return list(
        Post.objects.published()
        .exclude(pk__in=[post.pk, *exclude])
        .filter(search_vector=search)
        .annotate(rank=SearchRank(F("search_vector"), search))
        .order_by("-rank", "-published_at")[:limit]
    )
