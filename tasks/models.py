import uuid
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Case, Q, Value, When
from simple_history.models import HistoricalRecords

from contentpipeline.errors import InvalidTransition


class TaskType(models.TextChoices):
    BLOG_POST = "blog_post"
    SOCIAL_POST = "social_post"
    NEWSLETTER = "newsletter"


class Tone(models.TextChoices):
    PROFESSIONAL = "professional"
    CASUAL = "casual"
    ACADEMIC = "academic"
    INSPIRATIONAL = "inspirational"


class Style(models.TextChoices):
    TECHNICAL = "technical"
    NARRATIVE = "narrative"
    LISTICLE = "listicle"
    EDUCATIONAL = "educational"
    THOUGHT_LEADERSHIP = "thought_leadership"


class Quality(models.TextChoices):
    FAST = "fast"
    BALANCED = "balanced"
    QUALITY = "quality"


class Priority(models.TextChoices):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


# Celery's Redis transport serves lower numbers first.
CELERY_PRIORITY = {Priority.URGENT: 0, Priority.HIGH: 3, Priority.NORMAL: 6, Priority.LOW: 9}
# The same order in the database: a pending task's rank (lower first) when a run picks.
QUEUE_RANK = Case(
    *(When(priority=name.value, then=Value(rank)) for name, rank in CELERY_PRIORITY.items()),
    default=Value(CELERY_PRIORITY[Priority.LOW]),
    output_field=models.SmallIntegerField(),
)
# A run lost in a crash has waited its turn already: it goes back ahead of the line.
RECOVERY_PRIORITY = 0


class Status(models.TextChoices):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
    AWAITING_PLAN = "awaiting_plan"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    PUBLISHED = "published"
    REJECTED = "rejected"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Stage(models.TextChoices):
    RESEARCH = "research"
    DRAFT = "draft"
    REVIEW = "review"
    IMAGE = "image"
    SEO = "seo"
    DONE = "done"


PIPELINE_STAGES: tuple[str, ...] = (
    Stage.RESEARCH,
    Stage.DRAFT,
    Stage.REVIEW,
    Stage.IMAGE,
    Stage.SEO,
)

ACTIVE_STATUSES = (Status.PENDING, Status.IN_PROGRESS)
# Where a task waits for an editor's review: its draft, or its plan before the draft.
AWAITING_REVIEW = (Status.AWAITING_APPROVAL, Status.AWAITING_PLAN)


class Move(NamedTuple):
    """A legal move of the status machine: from any of `sources` to `target`."""

    sources: frozenset[str]
    target: str
    # What a refused move answers, with {move} and {status}, when the generic wording
    # would not tell the user what to do.
    refusal: str = "Cannot {move} a task that is '{status}'."


_PLAN_ONLY = (
    "Only a task awaiting its plan's approval has a plan to decide; this one is '{status}'."
)
_DECIDE_ONLY = "Only a task awaiting approval can be decided; this one is '{status}'."

# The status machine: the only place that says which move is legal. Every change of a
# task's status is one of these named moves, made through `ContentTask.move`; user
# actions (pause, resume, cancel, retry) are moves like the pipeline's and the editors'.
MOVES: dict[str, Move] = {
    # The runner takes a task: a pending one starts (or a resumed one is taken back by
    # the run still in flight); a running one is run again after a failed or lost run.
    "run": Move(frozenset({Status.PENDING, Status.IN_PROGRESS}), Status.IN_PROGRESS),
    "finish": Move(frozenset({Status.IN_PROGRESS}), Status.AWAITING_APPROVAL),
    # Research is done and the task asked for its plan to be approved (`review_plan`).
    "await_plan": Move(frozenset({Status.IN_PROGRESS}), Status.AWAITING_PLAN),
    # The plan approved: the run goes on with the draft; sent back: research again.
    "approve_plan": Move(frozenset({Status.AWAITING_PLAN}), Status.PENDING, _PLAN_ONLY),
    "replan": Move(frozenset({Status.AWAITING_PLAN}), Status.PENDING, _PLAN_ONLY),
    # A run's retries are exhausted.
    "fail": Move(frozenset({Status.IN_PROGRESS}), Status.FAILED),
    # Runs were lost too often; the last one may be found while the task is pending.
    "give_up": Move(frozenset({Status.PENDING, Status.IN_PROGRESS}), Status.FAILED),
    "pause": Move(frozenset({Status.PENDING, Status.IN_PROGRESS}), Status.PAUSED),
    "resume": Move(frozenset({Status.PAUSED}), Status.PENDING),
    "cancel": Move(
        frozenset({Status.PENDING, Status.IN_PROGRESS, Status.PAUSED}), Status.CANCELLED
    ),
    "retry": Move(frozenset({Status.FAILED}), Status.PENDING),
    "approve": Move(frozenset({Status.AWAITING_APPROVAL}), Status.APPROVED, _DECIDE_ONLY),
    "reject": Move(frozenset({Status.AWAITING_APPROVAL}), Status.REJECTED, _DECIDE_ONLY),
    "regenerate": Move(frozenset({Status.REJECTED}), Status.PENDING),
    "publish": Move(frozenset({Status.APPROVED}), Status.PUBLISHED),
    # An editor took the post off the site; publishing it again is the "publish" move.
    "unpublish": Move(frozenset({Status.PUBLISHED}), Status.APPROVED),
    # The approved text of a post not yet live was changed: it needs approving again.
    "reopen": Move(frozenset({Status.APPROVED}), Status.AWAITING_APPROVAL),
}


def lease_period() -> timedelta:
    """How long a run's lease lasts without a heartbeat before the run counts as lost."""
    return timedelta(seconds=settings.PIPELINE_LEASE_SECONDS)


class ContentTaskQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(deleted_at__isnull=True)

    def in_turn(self, now: datetime):
        """Pending tasks a new run may take, the one whose turn it is first: the highest
        priority, then the lowest turn (owners take turns, see services.dispatch), then
        the oldest. A task whose run is still in a stage (paused and resumed meanwhile)
        is left to that run."""
        return self.pending_in_turn().without_live_run(now)

    def pending_in_turn(self):
        """`in_turn` as far as it does not depend on the time: pending tasks in turn."""
        return (
            self.alive()
            .filter(status=Status.PENDING)
            .order_by("queue_rank", "queue_turn", "created_at")
        )

    def without_live_run(self, now: datetime):
        """Tasks whose lease, if any, is stale at `now`."""
        return self.exclude(lease_id__isnull=False, heartbeat_at__gte=now - lease_period())

    def in_progress_without_live_run(self, now: datetime):
        """Runs that must go on: tasks in progress whose run let the lease go (a failed
        stage waiting for its retry) or stopped renewing it (lost)."""
        alive_lease = Q(lease_id__isnull=False, heartbeat_at__gte=now - lease_period())
        return self.alive().filter(status=Status.IN_PROGRESS).exclude(alive_lease)

    def in_flight(self, now: datetime):
        """Runs in flight: tasks in progress (in a stage, waiting for a stage's retry, or
        lost until taken over), and tasks paused or cancelled whose run is still in its
        stage (a live lease)."""
        alive_lease = Q(lease_id__isnull=False, heartbeat_at__gte=now - lease_period())
        return self.filter(Q(status=Status.IN_PROGRESS) | alive_lease)

    def owners_at_cap(self, now: datetime, cap: int):
        """The ids of owners with at least `cap` runs in flight (MAX_RUNS_PER_USER)."""
        return (
            self.in_flight(now)
            .order_by()
            .values("created_by")
            .annotate(runs=models.Count("pk"))
            .filter(runs__gte=cap)
            .values("created_by")
        )

    def overdue(self, now: datetime):
        """Tasks awaiting review (a draft or a plan) whose `due_at` has passed at `now`."""
        return self.alive().filter(status__in=AWAITING_REVIEW, due_at__lt=now)

    def review_reminder_due(self, now: datetime, before: timedelta):
        """Tasks awaiting review due within `before` of `now` (or already overdue) whose
        reviewers were not reminded yet."""
        return self.alive().filter(
            status__in=AWAITING_REVIEW, due_at__lte=now + before, due_reminded_at__isnull=True
        )

    def waiting_for_dispatch(self, now: datetime):
        """Pending tasks nobody claimed within the dispatch grace period, not sent in it."""
        grace = now - timedelta(seconds=settings.PIPELINE_DISPATCH_GRACE)
        return self.alive().filter(
            Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=grace),
            status=Status.PENDING,
            updated_at__lt=grace,
        )

    def with_lost_runs(self, now: datetime):
        """Running tasks whose run stopped renewing its lease, not sent again since."""
        expired = now - lease_period()
        return self.alive().filter(
            Q(heartbeat_at__lt=expired) | Q(heartbeat_at__isnull=True),
            Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=expired),
            status=Status.IN_PROGRESS,
        )


class ContentTask(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task_type = models.CharField(max_length=20, choices=TaskType, default=TaskType.BLOG_POST)
    topic = models.CharField(max_length=300)
    keywords = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    primary_keyword = models.CharField(max_length=100, blank=True)
    target_audience = models.CharField(max_length=200, blank=True)
    category = models.CharField(max_length=100, blank=True)
    tone = models.CharField(max_length=20, choices=Tone, default=Tone.PROFESSIONAL)
    style = models.CharField(max_length=20, choices=Style, default=Style.EDUCATIONAL)
    target_length = models.PositiveIntegerField(default=800)
    generate_image = models.BooleanField(default=True)
    quality_preference = models.CharField(max_length=10, choices=Quality, default=Quality.BALANCED)
    priority = models.CharField(max_length=10, choices=Priority, default=Priority.NORMAL)
    # Up to 5 http(s) URLs the research stage reads (services.lifecycle.clean_sources).
    sources = models.JSONField(default=list, blank=True)
    # Ceiling in USD on what the task's model calls may cost (settings.TASK_MAX_COST
    # when null); a call that would cross it fails the task instead.
    max_cost = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    # Reuse cached model responses (the `models` cache tier).
    use_cache = models.BooleanField(default=True)
    # Stop after research at awaiting_plan until an editor approves the outline.
    review_plan = models.BooleanField(default=False)
    # The current generation's plan while there is one (`review_plan`): {"generation",
    # "outline": [{"heading", "point", "sources": [n, ...]}], "status": proposed |
    # approved | sent_back, "feedback"}. Written by tasks.services.plans.
    plan = models.JSONField(null=True, blank=True)
    # When the review should be done by (optional): the review queue sorts by it and
    # marks what is past it; editors are reminded once, REVIEW_REMINDER_BEFORE ahead.
    due_at = models.DateTimeField(null=True, blank=True)
    # When the editors were reminded of `due_at` (tasks.services.deadlines): once a task.
    due_reminded_at = models.DateTimeField(null=True, blank=True, editable=False)

    status = models.CharField(max_length=20, choices=Status, default=Status.PENDING)
    stage = models.CharField(max_length=10, choices=Stage, default=Stage.RESEARCH)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    # The last rejected draft's feedback; every note is kept in FeedbackNote, and
    # each later generation's draft addresses all of them.
    feedback = models.TextField(blank=True)
    # Bumped when a rejected task is regenerated; stage outputs belong to one generation.
    generation = models.PositiveIntegerField(default=1)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="content_tasks"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Lease of the run that owns the task: the runner renews heartbeat_at while it works
    # and stops as soon as lease_id is no longer its own; a stale heartbeat means the run
    # was lost and the dispatcher sends the task again.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    lease_id = models.UUIDField(null=True, blank=True, editable=False)
    # When a message for the task was last handed to the broker; the dispatcher sends
    # again at most once per grace period, not on every beat.
    dispatched_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Runs lost in a row (worker killed, hard time limit) since a stage last finished;
    # the task fails at PIPELINE_MAX_LOST_RUNS instead of being sent again forever.
    lost_runs = models.PositiveSmallIntegerField(default=0, editable=False)
    # The task's place among pending runs: its priority's rank (lower first), then its
    # turn, set each time it becomes pending (services.dispatch.enqueue_on_commit) so
    # that owners take turns within a rank however many tasks one of them queued.
    queue_rank = models.GeneratedField(
        expression=QUEUE_RANK, output_field=models.SmallIntegerField(), db_persist=True
    )
    queue_turn = models.BigIntegerField(default=0, editable=False)
    deleted_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords(
        excluded_fields=[
            "heartbeat_at", "lease_id", "dispatched_at", "lost_runs", "queue_rank",
            "queue_turn", "updated_at", "due_reminded_at",
        ]
    )  # fmt: skip
    objects = ContentTaskQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "priority", "created_at"]),
            models.Index(fields=["created_by", "-created_at"]),
            # The pick of the next run (in_turn), and an owner's pending tasks (the turn
            # a newly pending task gets, the run sent when an owner's run ends).
            models.Index(
                fields=["queue_rank", "queue_turn", "created_at"],
                condition=Q(status=Status.PENDING, deleted_at__isnull=True),
                name="task_pending_in_turn",
            ),
            models.Index(
                fields=["created_by", "queue_rank", "queue_turn"],
                condition=Q(status=Status.PENDING, deleted_at__isnull=True),
                name="task_pending_by_owner",
            ),
            # Runs in flight: each owner's, counted when MAX_RUNS_PER_USER caps them,
            # and their turns (the turn a newly pending task gets).
            models.Index(
                fields=["created_by", "queue_rank", "queue_turn"],
                condition=Q(status=Status.IN_PROGRESS) | Q(lease_id__isnull=False),
                name="task_runs_in_flight",
            ),
            # The reviews due soon or overdue: the reminders' beat job, the overdue count.
            models.Index(
                fields=["due_at"],
                condition=Q(status__in=AWAITING_REVIEW, deleted_at__isnull=True),
                name="task_review_due",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="task_progress_at_most_100"
            ),
            models.CheckConstraint(
                condition=Q(target_length__gte=100, target_length__lte=5000),
                name="task_target_length_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.topic[:60]} ({self.get_status_display()})"

    @property
    def celery_priority(self) -> int:
        return CELERY_PRIORITY[Priority(self.priority)]

    def may(self, move: str) -> bool:
        """Whether the status machine allows `move` from the task's current status."""
        return self.status in MOVES[move].sources

    def move(self, move: str) -> None:
        """Make the named move, or raise InvalidTransition (409) and leave the task
        unchanged. Saving is the caller's (a service's) business."""
        if not self.may(move):
            message = MOVES[move].refusal.format(move=move, status=self.status)
            raise InvalidTransition(message, extra={"status": self.status})
        self.status = MOVES[move].target


class StageRunStatus(models.TextChoices):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class StageRun(models.Model):
    """One attempt of one stage; the succeeded one holds the stage's output."""

    task = models.ForeignKey(ContentTask, on_delete=models.CASCADE, related_name="stage_runs")
    generation = models.PositiveIntegerField()
    stage = models.CharField(max_length=10, choices=Stage)
    attempt = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=10, choices=StageRunStatus, default=StageRunStatus.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    model = models.CharField(max_length=100, blank=True)
    # Which provider wrote the output (the first of the fallback chain that answered).
    provider = models.CharField(max_length=20, blank=True)
    # The Celery node that ran the attempt (`name@host`, its -n); empty when the
    # pipeline ran outside a worker.
    worker = models.CharField(max_length=255, blank=True)
    # Model calls of this attempt answered from the cache, and calls made in all.
    cache_hits = models.PositiveSmallIntegerField(default=0)
    calls = models.PositiveSmallIntegerField(default=0)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    output = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            # A stage's output exists once per generation, however often it is run.
            models.UniqueConstraint(
                fields=["task", "generation", "stage"],
                condition=Q(status__in=["succeeded", "skipped"]),
                name="stage_run_one_result_per_generation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stage} #{self.attempt} ({self.status})"


class Draft(models.Model):
    """The text of one generation as an editor reviews it: made from the stage outputs
    when the editor first edits it, then changed only by editors' edits, each a version
    (who, when) in its history. Until then the stage outputs are the draft."""

    task = models.ForeignKey(ContentTask, on_delete=models.CASCADE, related_name="drafts")
    generation = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    excerpt = models.TextField(blank=True)
    body_markdown = models.TextField()
    # Rendered and sanitized from body_markdown by the service that saves it.
    body_html = models.TextField()
    seo_title = models.CharField(max_length=60, blank=True)
    meta_description = models.CharField(max_length=160, blank=True)
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    # The checks run again on the edited text when it was saved: {"claims": [...],
    # "style": [...]}, in the shapes the review stage gives them; null until then.
    checks = models.JSONField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "generation"], name="one_draft_per_generation")
        ]

    def __str__(self) -> str:
        return f"{self.title} (generation {self.generation})"


class FeedbackNote(models.Model):
    """One editor's request-changes (or reject) note on one generation's draft: the
    ledger every later generation's draft answers, each note of it, not the last only.
    Written by tasks.services.decisions.task_reject."""

    task = models.ForeignKey(ContentTask, on_delete=models.CASCADE, related_name="feedback_notes")
    # The generation whose draft the note was about.
    generation = models.PositiveIntegerField()
    note = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Generation {self.generation}: {self.note[:60]}"


class StyleGuide(models.Model):
    """The house style every draft is written to and reviewed against: one guide
    (pk 1), edited by editors in the admin, each save a version (simple-history) with
    its number in `version`, which each stage run that used it records.

    Rules checked by code: banned words or phrases, no exclamation marks, a maximum
    sentence length, phrases every piece must carry (a disclosure). Rules judged by the
    model (tone, audience): free text, one rule a line."""

    banned_phrases = models.TextField(blank=True, help_text="One word or phrase a line.")
    no_exclamation_marks = models.BooleanField(default=False)
    max_sentence_words = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Longest sentence allowed, in words; empty: no limit."
    )
    required_phrases = models.TextField(
        blank=True, help_text="One phrase a line that every piece must contain."
    )
    model_rules = models.TextField(
        blank=True, help_text="Rules a model judges (tone, audience), one a line."
    )
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="style_guide_is_one")]

    def __str__(self) -> str:
        return f"Style guide, version {self.version}"


class Webhook(models.Model):
    """An integrator's URL that each status change of their tasks is POSTed to, signed
    with `secret` (HMAC-SHA256). Written by tasks/services/webhooks.py."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks"
    )
    url = models.CharField(max_length=2000)
    secret = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    # Off: no deliveries are made for it (an admin's switch; the API deletes).
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["created_at", "id"]
        # Each status change asks for the owner's active webhooks: one probe of the
        # foreign key's index.
        constraints = [
            # The same URL twice would receive every event twice.
            models.UniqueConstraint(fields=["owner", "url"], name="webhook_one_per_owner_and_url")
        ]

    def __str__(self) -> str:
        return self.url


class DeliveryState(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(models.Model):
    """One status change of a task, to one webhook: its body, and how its attempts
    went (the last answer's status code and a short excerpt of it, or the error)."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    task = models.ForeignKey(ContentTask, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=40)
    status = models.CharField(max_length=20, choices=Status)
    previous_status = models.CharField(max_length=20, choices=Status, blank=True)
    # The event as it is sent (with the delivery's id added): the same at each attempt.
    payload = models.JSONField()
    state = models.CharField(max_length=10, choices=DeliveryState, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    # The first characters of the receiver's last answer, no more.
    last_response = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # While pending: when the next attempt is due (or, during one, when it counts as
    # lost); the dispatcher sends again what is overdue.
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="pending"),
                name="webhook_delivery_due",
            ),
            models.Index(fields=["webhook", "-created_at"], name="webhook_delivery_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.status} -> {self.webhook_id} ({self.state})"
