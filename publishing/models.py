from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords


class PostQuerySet(models.QuerySet):
    def published(self):
        """What readers may see: published, and not scheduled for later."""
        return self.filter(published_at__lte=timezone.now())


class Post(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200)
    excerpt = models.TextField(blank=True)
    body_markdown = models.TextField()
    # Sanitized at write time from body_markdown; templates may show it as is.
    body_html = models.TextField()
    image_url = models.CharField(max_length=500, blank=True)
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    category = models.CharField(max_length=100, blank=True)
    seo_title = models.CharField(max_length=60, blank=True)
    meta_description = models.CharField(max_length=160, blank=True)
    published_at = models.DateTimeField(db_index=True)
    task = models.OneToOneField(
        "tasks.ContentTask", on_delete=models.PROTECT, related_name="post", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    objects = PostQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-id"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("publishing:post_detail", kwargs={"slug": self.slug})
