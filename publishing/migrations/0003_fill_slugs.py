"""Slugs for the tags and categories of posts published before they had any."""

from django.db import migrations
from django.utils.text import slugify


def fill(apps, schema_editor):
    Post = apps.get_model("publishing", "Post")
    for post in Post.objects.all().only("pk", "tags", "category"):
        Post.objects.filter(pk=post.pk).update(
            tag_slugs=[slug for slug in (slugify(tag) for tag in post.tags) if slug],
            category_slug=slugify(post.category),
        )


class Migration(migrations.Migration):
    dependencies = [("publishing", "0002_post_slugs_unpublish_provenance")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
