"""The post history (every version of every post) is append-only in PostgreSQL
itself, as the task history is: UPDATE and DELETE of a version are refused row by
row, TRUNCATE by a statement-level trigger (the function is the tasks app's)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("publishing", "0006_post_word_pairs"),
        ("tasks", "0004_system_user_and_append_only_history"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE TRIGGER publishing_historicalpost_append_only "
            "BEFORE UPDATE OR DELETE ON publishing_historicalpost "
            "FOR EACH ROW EXECUTE FUNCTION audit_append_only();",
            "DROP TRIGGER IF EXISTS publishing_historicalpost_append_only "
            "ON publishing_historicalpost;",
        ),
        migrations.RunSQL(
            "CREATE TRIGGER publishing_historicalpost_no_truncate "
            "BEFORE TRUNCATE ON publishing_historicalpost "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();",
            "DROP TRIGGER IF EXISTS publishing_historicalpost_no_truncate "
            "ON publishing_historicalpost;",
        ),
    ]
