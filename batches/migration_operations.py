"""The migration operation of the schema baselines (batches/migrations/0001_squashed_0015_baseline.py, qc's).

Imported by migrations, so it stays as long as they do: a change here changes what they build, and the
test template's fingerprint (tests/template_db.py) includes this file for that reason.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations.base import Operation
from django.db.migrations.operations.models import CreateModel
from django.db.migrations.state import ProjectState
from pgtrigger.compiler import Trigger
from pgtrigger.migrations import AddTrigger


class CreateModels(Operation):
    """Create many tables, each with its triggers, as one change of the migration state.

    Django's ``CreateModel`` renders the new model, and every model related to it recursively, the moment
    it is added to a rendered state. In these apps every table refers to the user, so each ``CreateModel``
    renders every model created before it: quadratic in the number of tables, and most of the time a
    fresh database took to migrate. This operation adds all its model states first and renders them, with
    what they relate to, once; then creates each table exactly as its ``CreateModel`` does. The schema
    editor defers foreign keys and indexes to the end of the migration, so the tables may refer to each
    other in any order, and pgtrigger's schema editor installs each table's ``Meta.triggers`` with it. A
    proxy has no table to create: its triggers (on its concrete model's table) are installed as
    ``AddTrigger`` installs them.
    """

    reduces_to_sql = True
    reversible = True

    def __init__(self, models: list[CreateModel]) -> None:
        self.models = models

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [], {"models": self.models})

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        # CreateModel's state change without its rendering: the state renders a model it is given only
        # when it is already rendered ("apps" computed), so set that aside while the models are added.
        rendered = state.__dict__.pop("apps", None)
        try:
            for operation in self.models:
                operation.state_forwards(app_label, state)
        finally:
            if rendered is not None:
                state.__dict__["apps"] = rendered
        state.reload_models([(app_label, operation.name_lower) for operation in self.models], delay=False)

    def database_forwards(
        self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> None:
        for operation in self.models:
            operation.database_forwards(app_label, schema_editor, from_state, to_state)
        for operation, trigger in self._proxy_triggers():
            AddTrigger(operation.name_lower, trigger).database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> None:
        # AddTrigger's reverse reads the model from the state before it, where these proxies do not exist yet.
        for _, trigger in self._proxy_triggers():
            schema_editor.execute(trigger.uninstall_sql, params=None)
        for operation in reversed(self.models):
            operation.database_backwards(app_label, schema_editor, from_state, to_state)

    def _proxy_triggers(self) -> list[tuple[CreateModel, Trigger]]:
        return [
            (operation, trigger)
            for operation in self.models
            if operation.options.get("proxy")
            for trigger in operation.options.get("triggers", [])
        ]

    def references_model(self, name: str, app_label: str) -> bool:
        return any(operation.references_model(name, app_label) for operation in self.models)

    def describe(self) -> str:
        return f"Create {len(self.models)} models: " + ", ".join(operation.name for operation in self.models)

    @property
    def migration_name_fragment(self) -> str:
        return "baseline"
