"""TRUNCATE fires no row trigger, so the decision table's UPDATE and DELETE guard
(0004) did not stop it from being emptied: a statement-level trigger refuses it too."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0005_audit_trail_name"),
        ("tasks", "0004_system_user_and_append_only_history"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE TRIGGER approvals_approvaldecision_no_truncate "
            "BEFORE TRUNCATE ON approvals_approvaldecision "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();",
            "DROP TRIGGER IF EXISTS approvals_approvaldecision_no_truncate "
            "ON approvals_approvaldecision;",
        ),
    ]
