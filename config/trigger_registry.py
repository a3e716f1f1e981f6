"""django-pgtrigger's registry of triggers, with its two duplicate checks answered from indexes.

Every trigger is registered once per process start (about 950 here: the audit events of 71 tracked
models and the protections of the GMP tables). For each registration, the pinned library rebuilds two
collections from every trigger registered so far: the triggers by (table, name) and the PostgreSQL
function names. That is quadratic: about 0.6 s of CPU in a start-up of 1.7 s, paid again by every web
server, Celery worker, beat and management command. This registry keeps both collections as it
goes, so each registration costs the same whatever comes before it. The checks themselves, their
errors and what a registration writes into the model's Meta stay the library's own
(``_Registry.__setitem__``): only the two lookups they read change. docs/decisions.md D-startup-1.
"""

from __future__ import annotations

from collections.abc import KeysView
from typing import Any

from pgtrigger import registry


class IndexedRegistry(registry._Registry):
    """pgtrigger's registry whose ``by_db_table`` and ``pg_function_names`` are kept, not rebuilt."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._by_db_table: dict[tuple[str, str], Any] = {}
        self._function_users: dict[str, int] = {}  # PostgreSQL function name -> triggers using it
        super().__init__(*args, **kwargs)

    @property
    def by_db_table(self) -> dict[tuple[str, str], Any]:
        return self._by_db_table

    @property
    def pg_function_names(self) -> KeysView[str]:
        return self._function_users.keys()

    def __setitem__(self, key: str, value: tuple[Any, Any]) -> None:
        replaced = self.data.get(key)
        super().__setitem__(key, value)  # the library's checks, reading the two indexes
        if replaced is not None:
            self._forget(*replaced)
        model, trigger = value
        self._by_db_table[(model._meta.db_table, trigger.name)] = trigger
        pgid = trigger.get_pgid(model)
        self._function_users[pgid] = self._function_users.get(pgid, 0) + 1

    def __delitem__(self, key: str) -> None:
        model, trigger = self[key]
        super().__delitem__(key)
        self._forget(model, trigger)

    def _forget(self, model: Any, trigger: Any) -> None:
        self._by_db_table.pop((model._meta.db_table, trigger.name), None)
        pgid = trigger.get_pgid(model)
        if self._function_users.get(pgid, 0) > 1:
            self._function_users[pgid] -= 1
        else:
            self._function_users.pop(pgid, None)


def install() -> None:
    """Put the indexed registry in place of the library's, before any model registers a trigger (the
    first installed app calls this while Django imports the apps, before it imports any model)."""
    if isinstance(registry._registry, IndexedRegistry):
        return
    indexed = IndexedRegistry()
    for key, value in registry._registry.items():
        indexed[key] = value
    registry._registry = indexed
