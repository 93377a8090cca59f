"""The Publishers group exists wherever `migrate` has run: its members manage posts over
the API (edit, reschedule, unpublish, publish again; see contentpipeline.roles). It
holds no admin permission: the admin is the editors'."""

from django.db import migrations

GROUP = "Publishers"


def create_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name=GROUP)


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("publishing", "0009_post_expire_at"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
