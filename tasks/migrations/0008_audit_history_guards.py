"""Every history table of the tasks app is append-only in PostgreSQL itself, whoever
asks: the task history already refused UPDATE and DELETE (0004); the draft history
now does too, and neither can be emptied with TRUNCATE, which fires no row trigger (a
statement-level trigger refuses it). Only a superuser's replica session, in which
PostgreSQL fires no ordinary trigger, or the tables' owner dropping the triggers gets
past them: the app's own role can do neither (README, Deploy)."""

from django.db import migrations

ROW_TRIGGER = (
    "CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
    "FOR EACH ROW EXECUTE FUNCTION audit_append_only();"
)
TRUNCATE_TRIGGER = (
    "CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();"
)
DROP = "DROP TRIGGER IF EXISTS {name} ON {table};"


def row_guard(table: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        ROW_TRIGGER.format(table=table), DROP.format(name=f"{table}_append_only", table=table)
    )


def truncate_guard(table: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        TRUNCATE_TRIGGER.format(table=table),
        DROP.format(name=f"{table}_no_truncate", table=table),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0007_webhooks"),
    ]

    operations = [
        truncate_guard("tasks_historicalcontenttask"),
        row_guard("tasks_historicaldraft"),
        truncate_guard("tasks_historicaldraft"),
    ]
