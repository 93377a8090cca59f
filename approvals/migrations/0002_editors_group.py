"""The Editors group exists wherever `migrate` has run: its members use the review desk
(the role comes from membership, see contentpipeline.roles), and the permissions let
them read the models behind it in admin."""

from django.db import migrations

GROUP = "Editors"
PERMISSIONS = [
    ("tasks", "view_contenttask"),
    ("tasks", "change_contenttask"),
    ("tasks", "view_historicalcontenttask"),
    ("tasks", "view_stagerun"),
    ("approvals", "view_approvaldecision"),
    ("publishing", "view_post"),
    ("publishing", "change_post"),
    ("publishing", "view_historicalpost"),
]


def create_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; this one needs them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, codename in PERMISSIONS:
        permission = Permission.objects.filter(
            content_type__app_label=app_label, codename=codename
        ).first()
        if permission is not None:
            group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0001_initial"),
        ("tasks", "0002_task_lost_runs"),
        ("publishing", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, migrations.RunPython.noop)]
