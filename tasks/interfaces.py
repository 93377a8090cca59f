"""What the tasks app needs from the apps above it, declared here as small interfaces.

The tasks app sits below publishing and cannot import it. Each need is a Protocol in
this module; the app that can meet it provides it once, at start-up, in its
`AppConfig.ready()`, through this module's `provide_...` function, and the tasks app
calls what was provided. (The generation pipeline's own needs are declared the same
way in tasks.pipeline.interfaces.)

Provided at start-up:
- `PostOverlaps`, by publishing (publishing/apps.py:
  `publishing.selectors.post_overlaps_for_subject`), for the published posts a new
  task would write about again (`overlaps` in the answer to POST /api/tasks).
- `DecisionTimings`, by approvals (approvals/apps.py:
  `approvals.selectors.decision_wait_histogram`), for how long drafts waited for each
  decision (GET /metrics, GET /api/metrics): the decisions are the approvals app's.
- `TaskReviews`, by approvals (approvals/apps.py: `approvals.workflows.TaskReviews`),
  for the approval workflow: who reviews a task's draft besides its owner and the
  editors, the tasks waiting for a user's decision, and the task's `workflow`.
- `StatusListener`s, by notifications (notifications/apps.py), told of each change of
  a task's status once it is committed (a draft waiting for review, a decision).

Until an app provides one, a need is met by a stand-in that offers nothing, so task
creation also works without the apps above it.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from math import ceil
from typing import NamedTuple, Protocol

logger = logging.getLogger(__name__)

# How many of the topic's words (the first ones) a match is judged on, and the share
# of them a close match holds (every word of a topic of one or two).
MAX_TOPIC_WORDS = 6
TOPIC_SHARE = 0.6


@dataclass(frozen=True)
class Subject:
    """What a new task is about, as full-text search sees it: the lexemes (English
    stems, letters and digits only) of its topic in order, and those of its primary
    keyword with their positions. `tasks.overlaps.subject_of` makes one."""

    topic: tuple[str, ...]
    keyword: tuple[tuple[str, int], ...]
    # The primary keyword as written, lower-cased and its spaces collapsed.
    keyword_text: str

    def topic_query(self, weights: str = "") -> str | None:
        """A tsquery (text for `to_tsquery('simple', ...)`) that a text matches when it
        holds most of the topic's first MAX_TOPIC_WORDS lexemes (a TOPIC_SHARE of
        them, all of one or two), each with one of `weights` ("AB": title, excerpt or
        tags of a post) if given; None for a topic without a word."""
        words = self.topic[:MAX_TOPIC_WORDS]
        if not words:
            return None
        needed = len(words) if len(words) <= 2 else ceil(TOPIC_SHARE * len(words))
        terms = [_term(word, weights) for word in words]
        if needed == len(terms):
            return " & ".join(terms)
        return " | ".join(f"({' & '.join(group)})" for group in combinations(terms, needed))

    def keyword_query(self, weights: str = "") -> str | None:
        """A tsquery that a text matches when it holds the primary keyword as a phrase
        (its lexemes as far apart as in the keyword), with `weights` as above; None
        without a keyword."""
        if not self.keyword:
            return None
        parts, previous = [], None
        for lexeme, position in self.keyword:
            if previous is not None:
                parts.append(f"<{max(0, position - previous)}>")
            parts.append(_term(lexeme, weights))
            previous = position
        return " ".join(parts)


def _term(lexeme: str, weights: str) -> str:
    # A lexeme holds letters and digits only (subject_of keeps no other), so quoting
    # it is all a tsquery needs: no operator of the user's text survives.
    return f"'{lexeme}'" + (f":{weights}" if weights else "")


class PostOverlaps(Protocol):
    """Published posts about `subject`: at most `limit` {"title", "url", "reason"},
    closest first, with site-relative URLs ("/posts/<slug>/") and `reason` "same
    primary keyword" or "similar topic". One or two indexed queries: task creation
    waits for it."""

    def __call__(self, subject: Subject, /, *, limit: int) -> list[dict[str, str]]: ...


def no_post_overlaps(subject: Subject, /, *, limit: int) -> list[dict[str, str]]:
    """The stand-in until an app provides PostOverlaps: no post overlaps."""
    return []


_post_overlaps: PostOverlaps = no_post_overlaps


def provide_post_overlaps(finder: PostOverlaps) -> None:
    """Make `finder` the tasks app's PostOverlaps, from the providing app's
    `AppConfig.ready()`. Providing again replaces the one before."""
    global _post_overlaps
    _post_overlaps = finder


def post_overlaps() -> PostOverlaps:
    """The PostOverlaps provided (no_post_overlaps when none was)."""
    return _post_overlaps


class Histogram(NamedTuple):
    """Observations counted into cumulative buckets (Prometheus' `le` bounds)."""

    cumulative: list[int]  # observations of at most each bound, in the bounds' order
    count: int
    total_seconds: float


class DecisionTimings(Protocol):
    """For each kind of decision on drafts (approved, rejected, changes_requested), the
    seconds from the draft reaching `awaiting_approval` to the decision, counted into
    `bounds` (ascending seconds). One query: a scrape waits for it."""

    def __call__(self, bounds: Sequence[float], /) -> dict[str, Histogram]: ...


def no_decision_timings(bounds: Sequence[float], /) -> dict[str, Histogram]:
    """The stand-in until an app provides DecisionTimings: no decisions."""
    return {}


_decision_timings: DecisionTimings = no_decision_timings


def provide_decision_timings(timings: DecisionTimings) -> None:
    """Make `timings` the tasks app's DecisionTimings, from the providing app's
    `AppConfig.ready()`. Providing again replaces the one before."""
    global _decision_timings
    _decision_timings = timings


def decision_timings() -> DecisionTimings:
    """The DecisionTimings provided (no_decision_timings when none was)."""
    return _decision_timings


class TaskReviews(Protocol):
    """The approval workflow's view of a task, for the tasks app's reads: who may
    review its draft besides its owner and the editors, which tasks wait for a user's
    decision, and the task's `workflow` as the API shows it."""

    def may_review(self, user, task, /) -> bool:
        """Whether `user` may read the task to review it (a reviewer of its step)."""
        ...

    def waiting_for(self, user, /) -> list:
        """Ids of the tasks awaiting approval whose current step `user` may decide."""
        ...

    def workflow(self, task, /) -> dict | None:
        """{name, step, steps: [{name, group, decision, reviewer, at}]}, or None."""
        ...


class NoTaskReviews:
    """The stand-in until an app provides TaskReviews: editors alone review."""

    def may_review(self, user, task, /) -> bool:
        return False

    def waiting_for(self, user, /) -> list:
        return []

    def workflow(self, task, /) -> dict | None:
        return None


_task_reviews: TaskReviews = NoTaskReviews()


def provide_task_reviews(reviews: TaskReviews) -> None:
    """Make `reviews` the tasks app's TaskReviews, from the providing app's
    `AppConfig.ready()`. Providing again replaces the one before."""
    global _task_reviews
    _task_reviews = reviews


def task_reviews() -> TaskReviews:
    """The TaskReviews provided (NoTaskReviews when none was)."""
    return _task_reviews


@dataclass(frozen=True)
class StatusChange:
    """A task's status as it changed, committed: `old_status` None for a new task;
    `at` when it was saved (with the task, it names the change); `user_id`
    who made it (None: nobody asked, a run or the schedule); `reason` as its history
    record says it ("approved by ...", "changes_requested by ..."). `step`: the step
    of an approval workflow the draft has reached, its status unchanged (still
    awaiting approval after an earlier step approved it); None for a change of status."""

    task_id: str
    old_status: str | None
    new_status: str
    at: datetime
    reason: str
    user_id: int | None
    step: int | None = None


class StatusListener(Protocol):
    """Told of a committed change of a task's status, in the thread that committed it
    (a request's, a run's): it must be quick (hand anything slow to the queue) and what
    it raises is logged, never the caller's failure."""

    def __call__(self, change: StatusChange, /) -> None: ...


_status_listeners: list[StatusListener] = []


def provide_status_listener(listener: StatusListener) -> None:
    """Add `listener` to those told of status changes, from the providing app's
    `AppConfig.ready()`; providing the same one again changes nothing."""
    if listener not in _status_listeners:
        _status_listeners.append(listener)


def status_listeners() -> tuple[StatusListener, ...]:
    """The StatusListeners provided (none until an app provides one)."""
    return tuple(_status_listeners)


def announce_status_change(change: StatusChange) -> None:
    """Tell each listener of `change`; one that fails is logged and the others told."""
    for listener in status_listeners():
        try:
            listener(change)
        except Exception:
            logger.exception("A status listener failed on task %s", change.task_id)
