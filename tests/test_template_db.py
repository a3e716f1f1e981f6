"""The test database's template is named after everything the migrated schema depends on."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_django import DjangoDbBlocker

from tests.template_db import _drop, _drop_stale_templates, schema_fingerprint, shared_test_name, template_prefix


@pytest.fixture
def qc_migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: pytest.FixtureRequest) -> Path:
    """The qc app's migrations read from a folder the test may edit."""
    package = tmp_path / "probe_qc_migrations"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "0001_initial.py").write_text("operations = []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    settings.MIGRATION_MODULES = {"qc": "probe_qc_migrations"}  # type: ignore[attr-defined]
    return package


def test_the_same_migrations_give_the_same_template() -> None:
    assert schema_fingerprint(use_migrations=True) == schema_fingerprint(use_migrations=True)


def test_a_changed_or_added_migration_gives_a_new_template(qc_migrations: Path) -> None:
    first = schema_fingerprint(use_migrations=True)

    (qc_migrations / "0001_initial.py").write_text("operations = []  # edited\n")
    edited = schema_fingerprint(use_migrations=True)
    (qc_migrations / "0002_more.py").write_text("operations = []\n")
    added = schema_fingerprint(use_migrations=True)

    assert len({first, edited, added}) == 3


def test_nomigrations_gets_a_template_of_its_own() -> None:
    assert schema_fingerprint(use_migrations=True) != schema_fingerprint(use_migrations=False)


def test_template_names_fit_postgresql_and_stay_with_their_test_database() -> None:
    name = template_prefix("test_" + "x" * 80) + schema_fingerprint(use_migrations=True)
    assert len(name.encode()) <= 63
    assert template_prefix("test_cb_a") != template_prefix("test_cb_b")


def test_the_processes_of_a_parallel_run_share_the_template_of_their_test_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pytest-xdist gives each process a test database of its own (test_cb_gw0, test_cb_gw1): all of them
    are cloned from the template of test_cb, so the first process builds it and the others wait for it."""
    prefixes = set()
    for worker in ("gw0", "gw1"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        prefixes.add(template_prefix(shared_test_name(f"test_cb_{worker}")))
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert prefixes == {template_prefix("test_cb")} == {template_prefix(shared_test_name("test_cb"))}
    # Only this process's own suffix is taken off: another name ending alike keeps its template.
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    assert shared_test_name("test_cb_gw0") == "test_cb_gw0"


def test_a_new_template_drops_the_stale_ones_of_its_test_database_only(django_db_blocker: DjangoDbBlocker) -> None:
    from django.db import connection

    quote = connection.ops.quote_name
    stale, current = template_prefix("test_probe") + "0" * 16, template_prefix("test_probe") + "1" * 16
    neighbour = template_prefix("test_probe_x") + "0" * 16  # another test database's: its name starts alike
    names = (stale, current, neighbour)
    with django_db_blocker.unblock(), connection._nodb_cursor() as cursor:
        try:
            for name in names:
                cursor.execute(f"CREATE DATABASE {quote(name)} TEMPLATE template0 IS_TEMPLATE true")
            _drop_stale_templates(cursor, quote, template_prefix("test_probe"), keep=current)
            cursor.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", [list(names)])
            assert {row[0] for row in cursor.fetchall()} == {current, neighbour}
        finally:
            for name in names:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
                if cursor.fetchone():
                    _drop(cursor, quote, name)
