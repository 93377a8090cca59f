"""Search latency on 100,000 published posts: `GET /api/posts/search` through Django's
test Client (in process: URL routing, middleware, DRF, the queries and serialization;
no socket) for rare, common and phrase queries, beside the same search done with
`icontains` on title or body (the ORM alone, count and first page, so the HTTP layer is
not even counted against it).

    make bench BENCH=bench/search.py
    .venv/bin/python bench/search.py [-n 100000] [--requests 100] [--regenerate]

The posts are written from the offline writer's phrase banks (a few hundred words
each, ~5,000 invented place names for rare words) and loaded with COPY; the generated
column fills the search vector. They live in a database of their own
(<name>_search), kept for the next run while it holds exactly N posts.

Queries matching more than `publishing.search.MAX_RANKED` posts rank the newest that
many (see post_search); the match counts printed are totals, estimated above that.

The cache does not hide the measurement: the content version is bumped (as a publish
does) before every timed request, so each one misses the `query` tier and runs the
search in PostgreSQL. Only the spelling fallback's vocabulary (unversioned) stays warm,
as it would in production; its cold computation is timed on its own.
"""

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from _common import configure, percentile

SEED = 20261129
TARGET_P95_MS = 30.0
TARGET_SPEEDUP = 50.0
KINDS = ("rare", "common", "very common", "phrase", "prefix")
SLOW_KINDS = ("rare", "common", "very common", "phrase")

# Subjects a post is about: a post's title, tags and keywords come from these.
TOPICS = (
    "composting beekeeping observability kubernetes sourdough woodworking birdwatching "
    "budgeting onboarding accessibility localisation cybersecurity photography "
    "permaculture podcasting typography mentoring negotiation fundraising hydroponics "
    "cartography calligraphy bookbinding fermentation orienteering astronomy pottery "
    "beachcombing kayaking bouldering microservices telemetry tracing alerting "
    "forecasting procurement logistics warehousing recycling upcycling journaling "
    "gardening pruning mulching irrigation viticulture cheesemaking knitting quilting "
    "embroidery archiving cataloguing indexing benchmarking profiling caching sharding "
    "replication encryption authentication provisioning containerisation migration "
    "refactoring documentation testing deployment monitoring incident retrospectives "
    "hiring interviewing coaching storytelling copywriting branding pricing invoicing "
    "bookkeeping payroll compliance auditing sustainability insulation composting "
    "rainwater beekeeping foraging mycology herbalism baking brewing roasting"
).split()
TOPICS = tuple(dict.fromkeys(TOPICS))
AUDIENCES = ("small teams", "beginners", "engineering managers", "hobbyists", "founders",
             "students", "volunteers", "analysts", "designers", "gardeners")  # fmt: skip
PIECES = ("guide", "post", "article", "note")
SYLLABLES = ("brack", "en", "fold", "tar", "row", "mere", "ash", "by", "wick", "thorn",
             "dale", "hol", "low", "ford", "kel", "ton", "mar", "sh", "pen", "rith", "gar",
             "vel", "ost", "quin", "bre", "dun", "lys", "mor", "tev", "ul")  # fmt: skip
COMMON = ("documentation", "feedback", "progress", "decisions", "priorities", "results",
          "habits", "baseline", "ownership", "momentum")  # fmt: skip
PHRASES = ('"clear documentation"', '"small wins"', '"feedback loops"', '"clear ownership"',
           '"baseline measurement"', '"testable decisions"', '"busy periods"',
           '"shared vocabulary"')  # fmt: skip


class Defaults(dict):
    def __missing__(self, key: str) -> str:
        return "it"


def sentence_banks():
    from tasks.pipeline.providers.offline.tables import phrases

    data = phrases()
    banks = list(data.general) + list(data.keyword_lines) + list(data.multi_keyword_lines)
    banks += list(data.audience_extra)
    for group in (data.kind_lines, data.tone_lines, data.style_lines):
        for lines in group.values():
            banks.extend(lines)
    banks += [
        f"{subject} {predicate}" for subject in data.subjects for predicate in data.predicates
    ]
    connectors = [c for group in data.connectors.values() for c in group]
    headings = [h for plan in data.section_plans.values() for _, hs in plan for h in hs]
    titles = [t for ts in data.titles.values() for t in ts] + list(data.tone_titles.values())
    return banks, connectors, headings, titles, list(data.bullets)


def place_names(rng: random.Random, count: int) -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        parts = rng.randint(2, 3)
        names.add("".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize())
    return sorted(names)


def generate(count: int):
    """Rows for COPY, deterministic for a given count."""
    rng = random.Random(SEED)
    banks, connectors, headings, titles, bullets = sentence_banks()
    places = place_names(rng, 5000)
    now = datetime.now(UTC)
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(TOPICS))]
    for i in range(count):
        topic, *keywords = rng.choices(TOPICS, weights=weights, k=4)
        place = rng.choice(places)
        values = Defaults(
            x=topic, s=topic, topic=topic, T=topic.capitalize(), pk=keywords[0],
            kw=keywords[1], kws=f"{keywords[0]}, {keywords[1]} and {keywords[2]}",
            aud=rng.choice(AUDIENCES), piece=rng.choice(PIECES), n=str(rng.randint(3, 12)),
            p="add more examples",
        )  # fmt: skip
        title = rng.choice(titles).format_map(values)
        title = f"{title} in {place}" if i % 3 == 0 else title
        sections = []
        for _ in range(rng.randint(4, 6)):
            lines = []
            for _ in range(rng.randint(3, 5)):
                line = rng.choice(banks).format_map(values)
                if rng.random() < 0.25:
                    line = f"{rng.choice(connectors)} {line[0].lower()}{line[1:]}"
                lines.append(line)
            if rng.random() < 0.3:
                lines.append(f"The team in {place} learned this the hard way.")
            sections.append(f"## {rng.choice(headings).format_map(values)}\n\n" + " ".join(lines))
        if rng.random() < 0.4:
            picks = rng.sample(bullets, 3)
            sections.append("\n".join(f"- {b.format_map(values)}" for b in picks))
        body = "\n\n".join(sections)
        excerpt = rng.choice(banks).format_map(values)
        tags = list(dict.fromkeys([topic, *keywords[:2]]))
        published = now - timedelta(minutes=rng.randint(1, 5 * 365 * 24 * 60))
        unpublished = None
        if i % 200 == 0:
            published = now + timedelta(days=rng.randint(1, 30))  # scheduled
        elif i % 201 == 0:
            unpublished = now
        slug = f"bench-{i}"
        yield (
            slug, title[:200], excerpt, body, f"<p>{excerpt}</p>", "", tags, tags, "Bench",
            "bench", title[:60], excerpt[:160], published, unpublished, [], now, now,
        )  # fmt: skip


COLUMNS = (
    "slug, title, excerpt, body_markdown, body_html, image_url, tags, tag_slugs, category, "
    "category_slug, seo_title, meta_description, published_at, unpublished_at, models_used, "
    "created_at, updated_at"
)

COPY_TYPES = [*["text"] * 6, "text[]", "text[]", *["text"] * 4, "timestamptz", "timestamptz",
              "text[]", "timestamptz", "timestamptz"]  # fmt: skip


def load(count: int, regenerate: bool) -> None:
    from django.db import connection

    from publishing.models import Post

    existing = Post.objects.filter(slug__startswith="bench-").count()
    if existing == count and Post.objects.count() == count and not regenerate:
        print(f"posts: {count} already in the database, reused")
        return
    started = time.monotonic()
    search_indexes = [
        index
        for index in Post._meta.indexes
        if index.name in ("post_search_vector", "post_word_pairs")
    ]
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE publishing_post, publishing_historicalpost")
        # Building the GIN indexes once after the load is much faster than keeping them
        # up to date row by row.
        with connection.schema_editor() as editor:
            for index in search_indexes:
                editor.remove_index(Post, index)
        cursor.execute("DROP INDEX IF EXISTS post_title_trgm")
        with cursor.copy(f"COPY publishing_post ({COLUMNS}) FROM STDIN") as copy:
            copy.set_types(COPY_TYPES)
            for row in generate(count):
                copy.write_row(row)
        loaded = time.monotonic()
        cursor.execute("SET maintenance_work_mem = '512MB'")
        with connection.schema_editor() as editor:
            for index in search_indexes:
                editor.add_index(Post, index)
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cursor.fetchone():
            cursor.execute(
                "CREATE INDEX post_title_trgm ON publishing_post USING gin (title gin_trgm_ops)"
            )
        cursor.execute("VACUUM ANALYZE publishing_post")
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('publishing_post'))")
        size = cursor.fetchone()[0]
    print(
        f"posts: {count} generated and loaded in {loaded - started:.1f}s (COPY, vectors "
        f"computed by the generated column), indexes built in {time.monotonic() - loaded:.1f}s; "
        f"table with indexes {size}"
    )


def query_pools(rng: random.Random) -> dict[str, list[str]]:
    # Rare: the invented place names (the generator's first draw), ~20 posts each.
    rare = [name.lower() for name in place_names(random.Random(SEED), 5000)]
    rng.shuffle(rare)
    return {
        "rare": rare,
        # Subjects of a few percent of the posts each.
        "common": list(TOPICS[10:60]),
        # Words of the phrase banks: in a quarter to half of all posts.
        "very common": list(COMMON) + [f"{a} {b}" for a in COMMON[:5] for b in COMMON[5:]],
        "phrase": list(PHRASES),
        "prefix": [word[: max(4, len(word) - 3)] for word in TOPICS[:40]],
    }


def time_api(client, query: str) -> tuple[float, dict]:
    from contentpipeline.cache import content_changed

    content_changed()  # outside a transaction: bumps the content version now
    started = time.perf_counter()
    response = client.get("/api/posts/search", {"q": query})
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.content[:300]
    return elapsed, response.json()


def time_icontains(query: str) -> float:
    from django.db.models import Q

    from publishing.models import Post

    text = query.strip('"')
    started = time.perf_counter()
    found = (
        Post.objects.published()
        .filter(Q(title__icontains=text) | Q(body_markdown__icontains=text))
        .order_by("-published_at")
    )
    total = found.count()
    list(found.values("slug", "title", "excerpt", "published_at")[:10])
    elapsed = (time.perf_counter() - started) * 1000
    assert total >= 0
    return elapsed


def line(label: str, values: list[float]) -> str:
    return (
        f"{label:<26} n={len(values):<4} p50 {statistics.median(values):8.1f} ms   "
        f"p95 {percentile(values, 0.95):8.1f} ms   max {max(values):8.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="posts to generate")
    parser.add_argument("--requests", type=int, default=100, help="timed requests per kind")
    parser.add_argument("--icontains", type=int, default=8, help="icontains runs per kind")
    parser.add_argument("--regenerate", action="store_true", help="rebuild the posts")
    args = parser.parse_args()

    configure(
        "search",
        database_suffix="search",
        env={
            "THROTTLE_RATES": "anon=100000000/min,user=100000000/min",
            "ALLOWED_HOSTS": "testserver,localhost",
        },
    )
    from django.test import Client

    from publishing import search

    load(args.n, args.regenerate)
    rng = random.Random(SEED)
    pools = query_pools(rng)
    client = Client()
    trigram = search.trigram_available()
    print(f"typo fallback: {'pg_trgm, then vocabulary' if trigram else 'vocabulary (no pg_trgm)'}")

    # Warm up Django, the connection and PostgreSQL's buffers.
    for query in pools["common"][:5] + pools["rare"][:5]:
        time_api(client, query)

    api: dict[str, list[float]] = {}
    counts: dict[str, list[int]] = {}
    for kind in KINDS:
        pool = pools[kind]
        api[kind], counts[kind] = [], []
        for i in range(args.requests):
            elapsed, body = time_api(client, pool[i % len(pool)])
            api[kind].append(elapsed)
            counts[kind].append(body["count"])

    # Typos: the cold vocabulary first (ts_stat over every post), then warm fallbacks.
    typos = [
        word[:2] + word[3] + word[2] + word[4:] for word in pools["rare"][:60] if len(word) > 5
    ]
    from django.core.cache import cache

    cache.delete("query:post-search:vocabulary")  # tier_get_or_set's unversioned key
    started = time.perf_counter()
    vocabulary_size = len(search._vocabulary())
    vocabulary_ms = (time.perf_counter() - started) * 1000
    typo_times, corrected = [], 0
    for word in typos[: args.requests]:
        elapsed, body = time_api(client, word)
        typo_times.append(elapsed)
        corrected += body["corrected"] is not None

    slow: dict[str, list[float]] = {}
    for kind in SLOW_KINDS:
        slow[kind] = [time_icontains(q) for q in pools[kind][: args.icontains]]

    print(f"\nGET /api/posts/search (test Client, every request a cache miss), {args.n} posts")
    for kind in KINDS:
        found = counts[kind]
        print(line(kind, api[kind]) + f"   matches median {statistics.median(found):.0f}")
    print(line("typo (fallback, warm)", typo_times) + f"   corrected {corrected}/{len(typos)}")
    print(
        f"{'vocabulary (cold ts_stat)':<26} {vocabulary_ms:.0f} ms for {vocabulary_size} "
        "lexemes, then cached"
    )
    print("\nicontains on title or body (ORM: count + first 10, newest first)")
    for kind in SLOW_KINDS:
        print(line(kind, slow[kind]))
    print("\nspeed-up (icontains / full-text)")
    worst_p95 = max(percentile(api[kind], 0.95) for kind in KINDS)
    speedups = []
    for kind in SLOW_KINDS:
        p50 = statistics.median(slow[kind]) / statistics.median(api[kind])
        p95 = percentile(slow[kind], 0.95) / percentile(api[kind], 0.95)
        speedups.append(min(p50, p95))
        print(f"{kind:<26} p50 {p50:6.0f}x   p95 {p95:6.0f}x")
    print(
        f"\ntargets: p95 < {TARGET_P95_MS:.0f} ms: worst {worst_p95:.1f} ms "
        f"({'met' if worst_p95 < TARGET_P95_MS else 'MISSED'}); speed-up >= {TARGET_SPEEDUP:.0f}x: "
        f"least {min(speedups):.0f}x ({'met' if min(speedups) >= TARGET_SPEEDUP else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
