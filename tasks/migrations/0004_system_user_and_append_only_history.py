"""The system user that Celery and beat act as in the history, and a task history
that PostgreSQL itself keeps append-only: UPDATE and DELETE of a historical record
are refused, whoever asks (the ORM, a shell, a script)."""

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import migrations

SYSTEM_USERNAME = "system"

APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'The audit trail is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""
TRIGGER = """
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
"""


def create_system_user(apps, schema_editor):
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    User.objects.get_or_create(
        username=SYSTEM_USERNAME,
        defaults={"is_active": False, "password": make_password(None)},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0003_draft"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(create_system_user, migrations.RunPython.noop),
        migrations.RunSQL(APPEND_ONLY_FUNCTION, "DROP FUNCTION IF EXISTS audit_append_only() CASCADE;"),
        migrations.RunSQL(
            TRIGGER.format(table="tasks_historicalcontenttask"),
            "DROP TRIGGER IF EXISTS tasks_historicalcontenttask_append_only "
            "ON tasks_historicalcontenttask;",
        ),
    ]
