"""Start the account audit from the state found, and leave no readable API token behind.

- DRF's ``authtoken_token`` table held every token in plain text: it is dropped (its users ask for
  a new token, which knox stores as a digest), with its permissions; the admin log entries that
  named a token (their object id and text were the token itself) keep their time, user and action
  but lose the token.
- Users and role grants that exist already get one ``snapshot`` event each, made by
  ``system:migration``, so that the audit trail's reconciliation finds every row with a history.
"""

from typing import Any

from django.db import migrations

AUTHTOKEN_TYPES = "SELECT id FROM django_content_type WHERE app_label = 'authtoken'"
ACTOR_CONTEXT = '{"actor": "system:migration", "reason": "account audit begins: the state found"}'
SNAPSHOTS = (("UserAccountEvent", "auth_user"), ("UserRoleGrantEvent", "auth_user_groups"))


def snapshot(apps: Any, schema_editor: Any) -> None:
    quote = schema_editor.connection.ops.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT set_config('pghistory.context_metadata', %s, true)", [ACTOR_CONTEXT])
        for event_name, table in SNAPSHOTS:
            events = apps.get_model("batches", event_name)
            columns = [f.column for f in events._meta.concrete_fields if not f.column.startswith("pgh_")]
            listed = ", ".join(quote(c) for c in columns)
            cursor.execute(
                f"INSERT INTO {quote(events._meta.db_table)} "  # noqa: S608  # names from the model, no input
                f"(pgh_created_at, pgh_label, pgh_obj_id, pgh_context, {listed}) "
                f"SELECT clock_timestamp(), 'snapshot', t.id, %s::jsonb, {listed} FROM {quote(table)} AS t ORDER BY t.id",
                [ACTOR_CONTEXT],
            )
        cursor.execute("SELECT set_config('pghistory.context_metadata', '', true)")


class Migration(migrations.Migration):
    dependencies = [("batches", "0004_account_audit"), ("admin", "0003_logentry_add_action_flag_choices")]

    operations = [
        migrations.RunSQL(
            [
                "DROP TABLE IF EXISTS authtoken_token CASCADE",
                "DROP TABLE IF EXISTS knox_authtoken CASCADE",  # knox's own, never used (settings.MIGRATION_MODULES)
                f"DELETE FROM auth_group_permissions WHERE permission_id IN "
                f"(SELECT id FROM auth_permission WHERE content_type_id IN ({AUTHTOKEN_TYPES}))",
                f"DELETE FROM auth_user_user_permissions WHERE permission_id IN "
                f"(SELECT id FROM auth_permission WHERE content_type_id IN ({AUTHTOKEN_TYPES}))",
                f"DELETE FROM auth_permission WHERE content_type_id IN ({AUTHTOKEN_TYPES})",
                "UPDATE django_admin_log SET object_id = NULL, object_repr = 'API token (withheld)', "
                f"change_message = '' WHERE content_type_id IN ({AUTHTOKEN_TYPES})",
            ],
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.RunPython(snapshot, migrations.RunPython.noop),
    ]
