from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contentpipeline.errors import ApplicationError
from tasks.pipeline.claims import VERDICTS

from .interfaces import task_reviews
from .models import ContentTask, Priority, Quality, Style, TaskType, Tone, Webhook
from .selectors import stage_run_error_for, task_cost, task_feedback_history, task_result
from .services.lifecycle import (
    MAX_KEYWORDS,
    MAX_SOURCES,
    ON_OVERLAP,
    clean_keywords,
    clean_sources,
)
from .services.webhooks import MAX_URL_LENGTH


class TaskCreateSerializer(serializers.Serializer):
    task_type = serializers.ChoiceField(choices=TaskType.choices, default=TaskType.BLOG_POST)
    topic = serializers.CharField(min_length=3, max_length=300)
    keywords = serializers.ListField(
        child=serializers.CharField(min_length=1, max_length=100),
        max_length=MAX_KEYWORDS,
        required=False,
        default=list,
    )
    primary_keyword = serializers.CharField(max_length=100, required=False, allow_blank=True)
    target_audience = serializers.CharField(max_length=200, required=False, allow_blank=True)
    category = serializers.CharField(max_length=100, required=False, allow_blank=True)
    tone = serializers.ChoiceField(choices=Tone.choices, default=Tone.PROFESSIONAL)
    style = serializers.ChoiceField(choices=Style.choices, default=Style.EDUCATIONAL)
    target_length = serializers.IntegerField(min_value=100, max_value=5000, default=800)
    generate_image = serializers.BooleanField(default=True)
    quality_preference = serializers.ChoiceField(choices=Quality.choices, default=Quality.BALANCED)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    sources = serializers.ListField(
        child=serializers.URLField(max_length=2000),
        max_length=MAX_SOURCES,
        required=False,
        default=list,
    )
    max_cost = serializers.DecimalField(
        max_digits=10, decimal_places=4, min_value=0, required=False, allow_null=True
    )
    use_cache = serializers.BooleanField(default=True)
    review_plan = serializers.BooleanField(
        default=False,
        help_text="Stop after research at `awaiting_plan` until an editor approves the "
        "outline (POST /api/tasks/{id}/plan); the draft follows the approved plan.",
    )
    due_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="When the review should be done by (ISO 8601; without an offset, UTC); "
        "in the future. The review queue sorts by it and marks what is overdue; editors "
        "are reminded once before it.",
    )
    on_overlap = serializers.ChoiceField(
        choices=ON_OVERLAP,
        default="allow",
        help_text="`allow`: create the task and list what it overlaps in `overlaps`; "
        "`reject`: when it overlaps published posts or open tasks, create nothing and "
        "answer 409 with them.",
    )

    def validate_keywords(self, value: list[str]) -> list[str]:
        # The service's rule, repeated here for an error on the field.
        return clean_keywords(value)

    def validate_due_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("The deadline is in the past: give a time to come.")
        return value

    def validate_sources(self, value: list[str]) -> list[str]:
        try:
            return clean_sources(value)
        except ApplicationError as exc:  # ftp:// passes URLField, not the service
            raise serializers.ValidationError(str(exc)) from exc


class StageRunSerializer(serializers.Serializer):
    stage = serializers.CharField()
    status = serializers.CharField()
    attempt = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    model = serializers.CharField()
    tokens_in = serializers.IntegerField()
    tokens_out = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=12, decimal_places=6)
    provider = serializers.CharField()
    calls = serializers.IntegerField()
    cache_hits = serializers.IntegerField()
    error = serializers.SerializerMethodField(
        help_text="Why the attempt failed: the detail for editors, only that it failed for "
        "others (the task's `error` says why the task failed)."
    )

    def get_error(self, stage_run) -> str:
        return stage_run_error_for(user=self.context["request"].user, stage_run=stage_run)


class ReviewRoundSerializer(serializers.Serializer):
    round = serializers.IntegerField()
    quality_score = serializers.IntegerField()
    scores = serializers.DictField(child=serializers.IntegerField(allow_null=True))
    issues = serializers.ListField(child=serializers.CharField())
    word_count = serializers.IntegerField(allow_null=True)


class TaskSourceSerializer(serializers.Serializer):
    n = serializers.IntegerField(help_text="The source's number: a citation [n] in the text.")
    url = serializers.URLField()
    title = serializers.CharField(help_text="The page's title; empty when it could not be read.")
    fetched_at = serializers.DateTimeField(allow_null=True, help_text="When it was read.")


class ClaimSerializer(serializers.Serializer):
    sentence = serializers.CharField(help_text="The sentence of the draft that cites a source.")
    source = serializers.IntegerField(help_text="The number of the source it is checked against.")
    sources = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="Every source it cites."
    )
    verdict = serializers.ChoiceField(
        choices=VERDICTS,
        help_text="`supported`; `unsupported`: the source does not say it (approving needs "
        "`acknowledge_unsupported`); `unverifiable`: the source could not be read.",
    )
    excerpt = serializers.CharField(
        allow_blank=True, help_text="The source's sentence that should support it."
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, help_text="What the source does not say."
    )


class FeedbackChecklistItemSerializer(serializers.Serializer):
    note = serializers.CharField()
    generation = serializers.IntegerField(help_text="The generation the note was about.")
    addressed = serializers.BooleanField(help_text="Whether this draft addresses the note.")
    judged_by = serializers.ChoiceField(
        choices=["model", "code"], required=False,
        help_text="Who judged it: the review's model, or the code's check (offline, or "
        "when the model gave no verdict).",
    )  # fmt: skip


class StyleResultSerializer(serializers.Serializer):
    rule = serializers.CharField()
    kind = serializers.ChoiceField(
        choices=["code", "model"], help_text="Checked by code, or judged by the model."
    )
    passed = serializers.BooleanField(allow_null=True, help_text="null: not judged.")
    sentence = serializers.CharField(
        help_text="The first offending sentence of a failed rule (empty for a missing "
        "required phrase)."
    )
    detail = serializers.CharField(required=False)


class StyleReportSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="The version of the style guide checked.")
    results = StyleResultSerializer(many=True)


class FeedbackNoteSerializer(serializers.Serializer):
    note = serializers.CharField()
    by = serializers.CharField(allow_null=True, help_text="The editor's username.")
    at = serializers.DateTimeField()
    generation = serializers.IntegerField(help_text="The generation the note was about.")


class TaskResultSerializer(serializers.Serializer):
    title = serializers.CharField()
    excerpt = serializers.CharField()
    body_markdown = serializers.CharField()
    body_html = serializers.CharField()
    image_url = serializers.CharField()
    seo_title = serializers.CharField()
    meta_description = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    slug = serializers.CharField()
    quality_score = serializers.IntegerField(allow_null=True)
    qa_feedback = serializers.CharField()
    scores = serializers.DictField(child=serializers.IntegerField(allow_null=True))
    review_rounds = ReviewRoundSerializer(many=True)
    sources = TaskSourceSerializer(many=True)
    claims = ClaimSerializer(
        many=True,
        help_text="The draft's cited sentences checked against their sources: the review's, "
        "or checked again on the edited text.",
    )
    content_hash = serializers.CharField(
        help_text="sha256 of the text under review (title, excerpt, body, SEO fields, tags): "
        "send it as the approval's `expected_content_hash` to decide this text and no other."
    )
    feedback_checklist = FeedbackChecklistItemSerializer(
        many=True, help_text="For each editor's note of the ledger, whether this draft "
        "addresses it.",
    )  # fmt: skip
    style = StyleReportSerializer(
        allow_null=True, help_text="The style guide's rules checked on this text (on the "
        "edited text after an editor's edit); null before the review.",
    )  # fmt: skip


class PlanSectionSerializer(serializers.Serializer):
    heading = serializers.CharField(max_length=200)
    point = serializers.CharField(max_length=1000, allow_blank=True, required=False, default="")
    sources = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        default=list,
        help_text="Numbers `n` of the research's sources the section draws on.",
    )


class TaskPlanSerializer(serializers.Serializer):
    outline = PlanSectionSerializer(many=True)
    status = serializers.ChoiceField(
        choices=["proposed", "approved", "sent_back"],
        allow_null=True,
        help_text="null until research has proposed a plan; `sent_back`: being researched "
        "again with the editor's feedback.",
    )


class TaskPostSerializer(serializers.Serializer):
    slug = serializers.CharField()
    url = serializers.CharField()


class WorkflowStepStateSerializer(serializers.Serializer):
    name = serializers.CharField()
    group = serializers.CharField(help_text="The group whose members decide the step.")
    decision = serializers.CharField(
        allow_null=True, help_text="approved, rejected, changes_requested, or null: undecided."
    )
    reviewer = serializers.CharField(allow_null=True)
    at = serializers.DateTimeField(allow_null=True)


class TaskWorkflowSerializer(serializers.Serializer):
    name = serializers.CharField()
    step = serializers.IntegerField(help_text="The step the draft is at (1-based).")
    steps = WorkflowStepStateSerializer(many=True)


class TaskSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    result = serializers.SerializerMethodField()
    stages = serializers.SerializerMethodField()
    cost = serializers.SerializerMethodField()
    post = serializers.SerializerMethodField()
    feedback_history = serializers.SerializerMethodField()
    plan = serializers.SerializerMethodField()
    workflow = serializers.SerializerMethodField()

    class Meta:
        model = ContentTask
        fields = [
            "id", "task_type", "topic", "keywords", "primary_keyword", "target_audience",
            "category", "tone", "style", "target_length", "generate_image",
            "quality_preference", "priority", "sources", "max_cost", "use_cache", "review_plan",
            "plan", "due_at", "status",
            "stage", "progress", "error",
            "feedback", "generation", "created_by", "created_at", "updated_at", "started_at",
            "completed_at", "result", "feedback_history", "workflow", "stages", "cost", "post",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(TaskResultSerializer(allow_null=True))
    def get_result(self, task: ContentTask):
        return task_result(task)

    @extend_schema_field(FeedbackNoteSerializer(many=True))
    def get_feedback_history(self, task: ContentTask):
        return FeedbackNoteSerializer(task_feedback_history(task), many=True).data

    @extend_schema_field(TaskWorkflowSerializer(allow_null=True))
    def get_workflow(self, task: ContentTask):
        # The approval workflow is the approvals app's (tasks.interfaces.TaskReviews).
        return task_reviews().workflow(task)

    @extend_schema_field(StageRunSerializer(many=True))
    def get_stages(self, task: ContentTask):
        return StageRunSerializer(task.stage_runs.all(), many=True, context=self.context).data

    # A decimal string like every amount in the API (`max_cost`, each stage's `cost`), so
    # no client reads USD through a float.
    @extend_schema_field(
        {
            "type": "string",
            "format": "decimal",
            "pattern": r"^-?\d+(\.\d+)?$",
            "description": "Total USD of the task's model calls, as a decimal string.",
        }
    )
    def get_cost(self, task: ContentTask) -> str:
        return str(task_cost(task))

    @extend_schema_field(TaskPlanSerializer(allow_null=True))
    def get_plan(self, task: ContentTask):
        if not task.review_plan:
            return None
        plan = task.plan or {}
        return {"outline": plan.get("outline") or [], "status": plan.get("status")}

    @extend_schema_field(TaskPostSerializer(allow_null=True))
    def get_post(self, task: ContentTask):
        post = getattr(task, "post", None)
        if post is None:
            return None
        request = self.context.get("request")
        url = post.get_absolute_url()
        return {"slug": post.slug, "url": request.build_absolute_uri(url) if request else url}


class OverlapSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["post", "task"])
    title = serializers.CharField(help_text="The post's title, or the task's topic.")
    url = serializers.CharField(required=False, help_text="Posts: the post's public URL.")
    id = serializers.UUIDField(required=False, help_text="Tasks: the task's id.")
    status = serializers.CharField(required=False, help_text="Tasks: the task's status.")
    reason = serializers.ChoiceField(
        choices=["same primary keyword", "similar topic"],
        help_text="`same primary keyword`: the post's title, excerpt or tags hold it as a "
        "phrase, or the task has it too; `similar topic`: most of the topic's words.",
    )


class TaskCreatedSerializer(TaskSerializer):
    """The answer to creating a task: the task, and what it overlaps."""

    overlaps = OverlapSerializer(
        many=True,
        help_text="Published posts and open tasks (yours; an editor's: anyone's) on the same "
        "subject, at most 10: posts first.",
    )

    class Meta(TaskSerializer.Meta):
        fields = [*TaskSerializer.Meta.fields, "overlaps"]
        read_only_fields = fields


class OverlapConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    overlaps = OverlapSerializer(many=True)


def overlaps_for_answer(overlaps: list[dict], request=None) -> list[dict]:
    """The overlaps as the API answers them: a post's URL absolute."""
    answer = []
    for overlap in overlaps:
        if overlap.get("kind") == "post" and request is not None:
            overlap = {**overlap, "url": request.build_absolute_uri(overlap["url"])}
        answer.append(OverlapSerializer(overlap).data)
    return answer


class WebhookCreateSerializer(serializers.Serializer):
    url = serializers.CharField(
        max_length=MAX_URL_LENGTH,
        help_text="An http(s) URL on a public address; each status change of your tasks "
        "is POSTed to it.",
    )


class WebhookSerializer(serializers.ModelSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="Key of the HMAC-SHA256 in each request's `X-Webhook-Signature` header.",
    )

    class Meta:
        model = Webhook
        fields = ["id", "url", "secret", "active", "created_at"]
        read_only_fields = fields
