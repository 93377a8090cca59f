"""What a new task would write about again: the published posts and the open tasks on
the same subject (`overlaps` in the answer to POST /api/tasks).

- The subject: the topic's and the primary keyword's lexemes, as PostgreSQL's English
  full-text configuration makes them (stems, stop words left out; the topic's numbers
  too), letters and digits only: whatever punctuation or tsquery syntax the topic
  holds never reaches a query as anything but a quoted word
  (tasks.interfaces.Subject builds the queries).
- Posts: the search index already knows them. Publishing provides the search
  (tasks.interfaces.PostOverlaps); a post overlaps when its title, excerpt or tags hold
  the primary keyword as a phrase ("same primary keyword") or most of the topic's
  words ("similar topic").
- Tasks: the open ones (pending, in progress, paused, awaiting a plan or an approval,
  approved) the requester may read (their own; an editor's: all), whose primary
  keyword is the same (case and spaces aside) or whose topic holds most of the new
  topic's words. One query, narrowed first by status (and owner) through their
  indexes to the newest MAX_OPEN_TASKS (500) of them, whose topics are matched as
  they are read.
"""

import logging
import re
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import DatabaseError, connection
from django.db.models import BooleanField, ExpressionWrapper, Func, Q, Value
from django.db.models.functions import Lower, Trim

from contentpipeline.roles import is_editor

from .interfaces import Subject, post_overlaps
from .models import ContentTask, Status

logger = logging.getLogger(__name__)

MAX_OVERLAPS = 10
# Tasks still on their way to a post: a new one on the same subject would write it twice.
OPEN_STATUSES = (
    Status.PENDING, Status.IN_PROGRESS, Status.PAUSED, Status.AWAITING_PLAN,
    Status.AWAITING_APPROVAL, Status.APPROVED,
)  # fmt: skip
# Open tasks whose topics are compared with a new one, at most: the newest.
MAX_OPEN_TASKS = 500
SAME_KEYWORD = "same primary keyword"
SIMILAR_TOPIC = "similar topic"
CONFIG = "english"
_LEXEME = re.compile(r"[^\W_]+")
# The lexemes of the topic, in order, and those of the keyword with their positions.
_SUBJECT_SQL = """
    SELECT
        ARRAY(SELECT lexeme FROM unnest(to_tsvector(%(config)s::regconfig, %(topic)s))
              ORDER BY positions[1], lexeme),
        ARRAY(SELECT ARRAY[lexeme, pos::text]
              FROM unnest(to_tsvector(%(config)s::regconfig, %(keyword)s)) AS t,
                   unnest(t.positions) AS p(pos)
              ORDER BY pos, lexeme)
"""


def _normalized(text: str) -> str:
    return " ".join(str(text or "").replace("\x00", "").split()).lower()


def subject_of(*, topic: str, primary_keyword: str) -> Subject:
    """The Subject of a task about `topic` with `primary_keyword` (one statement, no
    table read). Any text is safe: NUL bytes are dropped, and a topic of punctuation
    alone has no words (its queries are None)."""
    topic, keyword = _normalized(topic), _normalized(primary_keyword)
    if not any(char.isalnum() for char in topic + keyword):
        return Subject(topic=(), keyword=(), keyword_text=keyword)
    with connection.cursor() as cursor:
        cursor.execute(_SUBJECT_SQL, {"config": CONFIG, "topic": topic, "keyword": keyword})
        topic_lexemes, keyword_lexemes = cursor.fetchone()
    # A lexeme with anything but letters and digits ("example.com", "soil-health") is
    # left out; its parts are lexemes of their own.
    # A number ("7 ways", "in 2025") names no subject: two topics sharing one and a
    # common word ("Other subject 1 on lanterns", "Unrelated subject 1 on kites") are
    # not on the same subject.
    words = tuple(
        dict.fromkeys(
            word for word in topic_lexemes if _LEXEME.fullmatch(word) and not word.isdigit()
        )
    )
    phrase = tuple(
        (word, int(position))
        for word, position in (keyword_lexemes or [])
        if _LEXEME.fullmatch(word)
    )  # fmt: skip
    return Subject(topic=words, keyword=phrase, keyword_text=keyword)


def task_overlaps(*, user: AbstractBaseUser, subject: Subject, limit: int = MAX_OVERLAPS) -> list:
    """The open tasks `user` may read (their own; an editor's: all) on `subject`,
    among the newest MAX_OPEN_TASKS of them: at most `limit` {kind: "task", id, title
    (its topic), status, reason}, those with the same primary keyword first, then the
    newest."""
    topic_query = subject.topic_query()
    same_keyword = Q(normalized_keyword=subject.keyword_text) if subject.keyword_text else None
    similar_topic = (
        Q(topic_vector=SearchQuery(topic_query, search_type="raw", config="simple"))
        if topic_query
        else None
    )
    if same_keyword is None and similar_topic is None:
        return []
    readable = ContentTask.objects.alive().filter(status__in=OPEN_STATUSES)
    if not is_editor(user):
        readable = readable.filter(created_by=user)
    # Each topic is read into words as the query runs: only the newest open tasks are,
    # so a backlog of thousands costs what MAX_OPEN_TASKS cost.
    newest = readable.order_by("-created_at").values("pk")[:MAX_OPEN_TASKS]
    tasks = ContentTask.objects.filter(pk__in=newest)
    spaces = Func(Trim("primary_keyword"), Value(r"\s+"), Value(" "), Value("g"),
                  function="regexp_replace")  # fmt: skip
    tasks = tasks.annotate(
        normalized_keyword=Lower(spaces), topic_vector=SearchVector("topic", config=CONFIG)
    )
    either = Q()
    for condition in (same_keyword, similar_topic):
        if condition is not None:
            either |= condition
    keyword_first = ExpressionWrapper(same_keyword or Q(pk__in=[]), output_field=BooleanField())
    rows = (
        tasks.filter(either)
        .annotate(same_keyword=keyword_first)
        .order_by("-same_keyword", "-created_at", "-pk")
        .values("pk", "topic", "status", "same_keyword")[:limit]
    )
    return [
        {"kind": "task", "id": row["pk"], "title": row["topic"], "status": row["status"],
         "reason": SAME_KEYWORD if row["same_keyword"] else SIMILAR_TOPIC}
        for row in rows
    ]  # fmt: skip


def overlaps_for_new_task(
    *, user: AbstractBaseUser, topic: str, primary_keyword: str = "", keywords: Any = ()
) -> list[dict[str, Any]]:
    """What a task `user` is about to create would overlap: published posts (kind
    "post": title, url, reason) from the PostOverlaps publishing provided, then the
    open tasks `user` may read (kind "task": id, title, status, reason), MAX_OVERLAPS
    at most in all (half for each when both have more). The primary keyword is the
    task's own default (the first keyword) when none is given. A post search that
    fails is logged and finds none: an overlap warns, it never stops a task."""
    keyword = primary_keyword or (next(iter(keywords), "") if keywords else "")
    subject = subject_of(topic=topic, primary_keyword=str(keyword))
    if not subject.topic and not subject.keyword and not subject.keyword_text:
        return []
    try:
        posts = [
            {"kind": "post", **post}
            for post in post_overlaps()(subject, limit=MAX_OVERLAPS)[:MAX_OVERLAPS]
        ]
    except DatabaseError:
        raise  # the database itself: the task could not be created either
    except Exception:  # another app's search failing: no post overlaps, the task is made
        logger.exception("Finding posts that overlap %r failed", topic)
        posts = []
    tasks = task_overlaps(user=user, subject=subject, limit=MAX_OVERLAPS)
    share = MAX_OVERLAPS // 2
    keep_posts = max(share, MAX_OVERLAPS - len(tasks))
    posts = posts[:keep_posts]
    return posts + tasks[: MAX_OVERLAPS - len(posts)]
