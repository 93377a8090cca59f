import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
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
# A run lost in a crash has waited its turn already: it goes back ahead of the line.
RECOVERY_PRIORITY = 0


class Status(models.TextChoices):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
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

# The status machine: the only place that says which move is legal.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.PENDING: frozenset({Status.IN_PROGRESS, Status.PAUSED, Status.CANCELLED}),
    Status.IN_PROGRESS: frozenset(
        {Status.AWAITING_APPROVAL, Status.PAUSED, Status.CANCELLED, Status.FAILED}
    ),
    Status.PAUSED: frozenset({Status.PENDING, Status.CANCELLED}),
    Status.FAILED: frozenset({Status.PENDING}),
    Status.AWAITING_APPROVAL: frozenset({Status.APPROVED, Status.REJECTED}),
    Status.APPROVED: frozenset({Status.PUBLISHED}),
    Status.REJECTED: frozenset({Status.PENDING}),
    Status.PUBLISHED: frozenset(),
    Status.CANCELLED: frozenset(),
}
ACTIVE_STATUSES = (Status.PENDING, Status.IN_PROGRESS)

# User actions name a move of the machine above; the same target can be reached by
# different actions (paused -> pending is a resume, failed -> pending a retry), so each
# action also says where it may start from.
ACTIONS: dict[str, tuple[str, frozenset[str]]] = {
    "pause": (Status.PAUSED, frozenset({Status.PENDING, Status.IN_PROGRESS})),
    "resume": (Status.PENDING, frozenset({Status.PAUSED})),
    "cancel": (Status.CANCELLED, frozenset({Status.PENDING, Status.IN_PROGRESS, Status.PAUSED})),
    "retry": (Status.PENDING, frozenset({Status.FAILED})),
}


class ContentTaskQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(deleted_at__isnull=True)


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

    status = models.CharField(max_length=20, choices=Status, default=Status.PENDING)
    stage = models.CharField(max_length=10, choices=Stage, default=Stage.RESEARCH)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    # A rejected draft's feedback, which the next generation's draft addresses.
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
    deleted_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords(
        excluded_fields=["heartbeat_at", "lease_id", "dispatched_at", "lost_runs", "updated_at"]
    )
    objects = ContentTaskQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "priority", "created_at"]),
            models.Index(fields=["created_by", "-created_at"]),
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

    def can_transition(self, to: str) -> bool:
        return to in TRANSITIONS[Status(self.status)]

    def act(self, action: str) -> None:
        """Apply a user action (pause, resume, cancel, retry), or raise
        InvalidTransition (409) and leave the task unchanged."""
        to, sources = ACTIONS[action]
        if self.status not in sources:
            raise InvalidTransition(
                f"Cannot {action} a task that is '{self.status}'.",
                extra={"status": self.status},
            )
        self.transition(to)

    def transition(self, to: str) -> None:
        """Move to `to`, or raise InvalidTransition (409) and leave the task unchanged."""
        if not self.can_transition(to):
            raise InvalidTransition(
                f"Cannot move a task from '{self.status}' to '{to}'.",
                extra={"status": self.status},
            )
        self.status = to


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
