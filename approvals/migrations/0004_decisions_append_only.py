"""The decision table is append-only in PostgreSQL itself: UPDATE and DELETE are
refused whoever asks (the function comes from the tasks app's migration)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0003_decision_content_claims"),
        ("tasks", "0004_system_user_and_append_only_history"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE TRIGGER approvals_approvaldecision_append_only "
            "BEFORE UPDATE OR DELETE ON approvals_approvaldecision "
            "FOR EACH ROW EXECUTE FUNCTION audit_append_only();",
            "DROP TRIGGER IF EXISTS approvals_approvaldecision_append_only "
            "ON approvals_approvaldecision;",
        ),
    ]
