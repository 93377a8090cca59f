from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from simple_history.models import HistoricalRecords

# publishing_word_pairs() is an IMMUTABLE SQL function that migration 0006 creates.
WORD_PAIRS = models.Func(
    models.F("search_vector"),
    function="publishing_word_pairs",
    output_field=ArrayField(models.TextField()),
)


class PostQuerySet(models.QuerySet):
    def published(self):
        """What readers may see: live (not scheduled for later) and not unpublished."""
        return self.filter(published_at__lte=timezone.now(), unpublished_at__isnull=True)

    def with_status(self, status: str):
        """`published` (live), `scheduled` (not live yet) or `unpublished`."""
        now = timezone.now()
        if status == "scheduled":
            return self.filter(published_at__gt=now, unpublished_at__isnull=True)
        if status == "unpublished":
            return self.filter(unpublished_at__isnull=False)
        return self.published()


class PostManager(models.Manager.from_queryset(PostQuerySet)):
    def get_queryset(self):
        return super().get_queryset().defer("search_vector")


class Post(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200)
    excerpt = models.TextField(blank=True)
    body_markdown = models.TextField()
    # Sanitized at write time from body_markdown; templates may show it as is.
    body_html = models.TextField()
    image_url = models.CharField(max_length=500, blank=True)
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    # Slugs of the tags and the category, kept by the services beside the names: the
    # addresses /tags/<slug>/ and /categories/<slug>/.
    tag_slugs = ArrayField(models.CharField(max_length=60), default=list, blank=True)
    category = models.CharField(max_length=100, blank=True)
    category_slug = models.CharField(max_length=120, blank=True, db_index=True)
    seo_title = models.CharField(max_length=60, blank=True)
    meta_description = models.CharField(max_length=160, blank=True)
    published_at = models.DateTimeField(db_index=True)
    # Set while the post is off the site; an editor may publish it again.
    unpublished_at = models.DateTimeField(null=True, blank=True)
    # When a beat job takes the post off the site (unpublished, the version's reason
    # "expired"); until then it stays live.
    expire_at = models.DateTimeField(null=True, blank=True)
    # Provenance: the task's generation whose draft this is, and the models that wrote it.
    generation = models.PositiveIntegerField(null=True, blank=True)
    models_used = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    # The numbered sources the draft cites ([{"n", "url", "title", "fetched_at"}]), the
    # approval (when, by which role) and the hash of the text approved: a reader and an
    # integrator can tell how the post was made and whether it is still that text.
    sources = models.JSONField(default=list, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by_role = models.CharField(max_length=20, blank=True)
    approved_hash = models.CharField(max_length=64, blank=True)
    task = models.OneToOneField(
        "tasks.ContentTask", on_delete=models.PROTECT, related_name="post", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The full-text index of the post, kept by PostgreSQL itself on every write (bulk
    # ones too): title weighs most, then excerpt and tags, then the body. The config is
    # explicit because a generated column's expression must be IMMUTABLE, which
    # to_tsvector is only with a config; the tags go through publishing_tags_text(), an
    # IMMUTABLE wrapper of array_to_string (only STABLE) that migration 0004 creates.
    search_vector = models.GeneratedField(
        expression=(
            SearchVector("title", weight="A", config="english")
            + SearchVector("excerpt", weight="B", config="english")
            + SearchVector(
                models.Func(
                    "tags", function="publishing_tags_text", output_field=models.TextField()
                ),
                weight="B",
                config="english",
            )
            + SearchVector("body_markdown", weight="C", config="english")
        ),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    # The search vector is derived from the other fields: versions need not keep it.
    history = HistoricalRecords(excluded_fields=["search_vector"])
    # The search vector is for the database to search with, not for Python to read:
    # every query leaves it out unless asked (it is about 2 KB a post).
    objects = PostManager()

    class Meta:
        ordering = ["-published_at", "-id"]
        indexes = [
            GinIndex(fields=["tag_slugs"], name="post_tag_slugs"),
            GinIndex(fields=["search_vector"], name="post_search_vector"),
            # The lexemes side by side in the vector, in pairs ('baselin measur'):
            # the GIN index above cannot tell whether a phrase's words are, so a
            # phrase of common words would read every post holding both.
            GinIndex(WORD_PAIRS, name="post_word_pairs"),
            # The expiry job's question, every minute: the few posts on the site that
            # have an expiry date.
            models.Index(
                fields=["expire_at"],
                condition=models.Q(expire_at__isnull=False, unpublished_at__isnull=True),
                name="post_expiring",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        # Derived, never edited: the slugs always follow the names.
        self.tag_slugs = [slug for slug in (slugify(tag) for tag in self.tags) if slug]
        self.category_slug = slugify(self.category)
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "tag_slugs", "category_slug"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("publishing:post_detail", kwargs={"slug": self.slug})

    @property
    def is_live(self) -> bool:
        return self.unpublished_at is None and self.published_at <= timezone.now()
