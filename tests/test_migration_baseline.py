"""The schema baselines: a fresh database (the test database is one, cloned from a template migrated
from scratch) has every trigger the models declare, as declared; a database migrated through the old
chain records the baselines as applied, and one part-way continues through the old files.

The baselines' equality with the chain's schema, table by table, is shown by comparing a database
built each way (scripts/schema_compare.py; docs/performance.md). When the old files are deleted, the
history tests here go with them (docs/decisions.md, D-schema-1).
"""

from __future__ import annotations

import pgtrigger
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

from batches.dbrole import owner_session

pytestmark = pytest.mark.django_db

BASELINES = {"batches": "0001_squashed_0015_baseline", "qc": "0001_squashed_0006_baseline"}

Installed = dict[tuple[str, str], tuple[str, str, str, str]]


def installed_triggers() -> Installed:
    """Every pgtrigger-managed trigger of the public schema: (table, name) → (its definition, its function's
    definition, pgtrigger's hash comment, whether it fires), as PostgreSQL prints them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid), pg_get_functiondef(t.tgfoid), "
            "coalesce(obj_description(t.oid, 'pg_trigger'), ''), t.tgenabled "
            "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND c.relnamespace = 'public'::regnamespace AND t.tgname LIKE 'pgtrigger\\_%'"
        )
        return {(row[0], row[1]): (row[2], row[3], row[4], row[5]) for row in cursor.fetchall()}


def declared_triggers() -> list[pgtrigger.compiler.Trigger]:
    """Every trigger a model declares, compiled as its migration holds it (a proxy's on its concrete table)."""
    return [trigger.compile(model) for model, trigger in pgtrigger.registered()]


@pytest.mark.urs("URS-465")
def test_every_table_has_exactly_the_triggers_its_model_declares_with_their_definitions() -> None:
    installed = installed_triggers()
    declared = declared_triggers()
    assert len(declared) > 500  # every GMP table: protection, reason for change, transitions, audit capture
    assert set(installed) == {(compiled.sql.table, compiled.sql.pgid) for compiled in declared}

    # What installing each declared trigger now gives, in PostgreSQL's own words; the test's
    # transaction takes it back.
    with owner_session(), connection.cursor() as cursor:
        for compiled in declared:
            cursor.execute(compiled.install_sql)
    assert installed_triggers() == installed
    assert all(enabled == "O" for *_, enabled in installed.values())


@pytest.mark.urs("URS-465")
def test_ddl_is_recorded_by_event_triggers_that_fire_always() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT evtname, evtevent, evtenabled, evtfoid::regproc::text FROM pg_event_trigger ORDER BY 1")
        assert cursor.fetchall() == [
            ("cellbatch_ddl_drop", "sql_drop", "A", "cellbatch_record_ddl"),
            ("cellbatch_ddl_end", "ddl_command_end", "A", "cellbatch_record_ddl"),
        ]


def history(*, applied: list[tuple[str, str]]) -> MigrationExecutor:
    """The migrations of both apps a database has applied, in place of the test database's own (which
    names the baselines and, as Django records a squashed migration, every migration they replace);
    the test's transaction takes it back."""
    recorder = MigrationRecorder(connection)
    recorder.migration_qs.filter(app__in=BASELINES).delete()
    for app, name in applied:
        recorder.record_applied(app, name)
    return MigrationExecutor(connection)


def replaced() -> list[tuple[str, str]]:
    loader = MigrationExecutor(connection).loader
    return [key for app, name in BASELINES.items() for key in loader.disk_migrations[app, name].replaces]


def later() -> set[tuple[str, str]]:
    """The migrations written after the baselines (neither a baseline nor one they replace)."""
    loader = MigrationExecutor(connection).loader
    ours = {key for key in loader.disk_migrations if key[0] in BASELINES}
    return ours - set(BASELINES.items()) - set(replaced())


def planned(executor: MigrationExecutor) -> list[tuple[str, str]]:
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [(migration.app_label, migration.name) for migration, _ in plan if migration.app_label in BASELINES]


@pytest.mark.urs("URS-466")
def test_a_fresh_database_applies_the_baselines_and_none_of_the_old_files() -> None:
    plan = planned(history(applied=[]))

    assert set(plan) == set(BASELINES.items()) | later()
    for app, baseline in BASELINES.items():  # each app's baseline before anything written after it
        assert next(name for label, name in plan if label == app) == baseline
    assert not set(replaced()) & set(plan)


@pytest.mark.urs("URS-466")
def test_a_database_migrated_through_the_old_chain_has_the_baselines_applied_and_nothing_to_do() -> None:
    executor = history(applied=replaced())

    assert set(planned(executor)) == later()  # only what came after the baselines
    assert set(BASELINES.items()) <= set(executor.loader.applied_migrations)


@pytest.mark.urs("URS-466")
def test_a_database_part_way_through_the_old_chain_continues_through_the_old_files() -> None:
    last = ("batches", "0015_transport_range_in_limits")
    plan = planned(history(applied=[key for key in replaced() if key != last]))

    assert plan[0] == last
    assert not set(BASELINES.items()) & set(plan)
