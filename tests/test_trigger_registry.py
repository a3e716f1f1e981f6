"""The trigger registry that answers pgtrigger's duplicate checks from indexes (config/trigger_registry.py)
holds what the library's own registry computes, and refuses what it refuses."""

from __future__ import annotations

import pgtrigger
import pytest
from pgtrigger import registry

from config.trigger_registry import IndexedRegistry


def rebuilt(entries: registry._Registry) -> tuple[dict[tuple[str, str], object], set[str]]:
    """The two collections as the library builds them: from every registered trigger."""
    pairs = list(entries.data.values())
    return (
        {(model._meta.db_table, trigger.name): trigger for model, trigger in pairs},
        {trigger.get_pgid(model) for model, trigger in pairs},
    )


def test_every_process_registers_its_triggers_in_the_indexed_registry() -> None:
    assert isinstance(registry._registry, IndexedRegistry)
    assert len(registry._registry) > 500  # the audit events and the GMP tables' protections
    by_table, functions = rebuilt(registry._registry)
    assert registry._registry.by_db_table == by_table
    assert set(registry._registry.pg_function_names) == functions
    assert len(pgtrigger.registered()) == len(registry._registry)


def test_a_trigger_name_used_twice_on_a_table_is_refused_and_removal_keeps_the_indexes_true() -> None:
    copy = IndexedRegistry()
    for key, value in registry._registry.items():  # registered already: nothing is added to any Meta
        copy[key] = value
    key, (model, trigger) = next(iter(registry._registry.items()))
    other = pgtrigger.Protect(name=trigger.name, operation=pgtrigger.Update, condition=pgtrigger.Q(new__pk=0))
    with pytest.raises(KeyError, match="already used for model"):
        copy[key] = (model, other)
    copy[key] = (model, trigger)  # the same trigger again is accepted, as by the library
    assert (copy.by_db_table, set(copy.pg_function_names)) == rebuilt(copy)

    # Deleting takes the trigger out of the model's Meta too: the lists are put back as they were.
    meta_triggers, original = list(model._meta.triggers), list(model._meta.original_attrs["triggers"])
    try:
        del copy[key]
        assert (model._meta.db_table, trigger.name) not in copy.by_db_table
        assert trigger.get_pgid(model) not in copy.pg_function_names
        assert (copy.by_db_table, set(copy.pg_function_names)) == rebuilt(copy)
        copy[key] = (model, trigger)
        assert (copy.by_db_table, set(copy.pg_function_names)) == rebuilt(copy)
    finally:
        model._meta.triggers, model._meta.original_attrs["triggers"] = meta_triggers, original
