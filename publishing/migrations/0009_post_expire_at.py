"""A post's expiry date (`expire_at`): a beat job takes the post off the site then. Its
versions keep it, and a partial index holds the posts on the site that have one."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("publishing", "0008_post_sources_and_approval"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalpost",
            name="expire_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="post",
            name="expire_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="post",
            index=models.Index(
                condition=models.Q(("expire_at__isnull", False), ("unpublished_at__isnull", True)),
                fields=["expire_at"],
                name="post_expiring",
            ),
        ),
    ]
