"""The test database, cloned in about a second from a migrated template kept on the server.

Migrating an empty database costs tens of seconds even from the baselines (hundreds of tables and
PostgreSQL triggers); a clone costs one. What they build depends only on the migration files, the code
they run from outside them, the installed apps and the pinned requirements, so that schema is built
once into a template named after a hash of them, and every run creates its test database with
``CREATE DATABASE test_x TEMPLATE tmpl_...``. A changed migration (or app list, or pin) gives a new
name: the next run builds the new template and drops the stale ones of the same test database.
Templates are named after the test database, so checkouts that share a server with their own
DATABASE_URL never drop each other's. The processes of a parallel run (pytest-xdist, ``make test``)
each have a test database of their own, ``test_x_gw0``, ``test_x_gw1``…, all cloned from the one
template of ``test_x``, which the first of them builds.

pytest-django's flags keep their meaning: ``--reuse-db`` keeps the test database between runs (and
re-clones it when it was cloned from another template), ``--create-db`` makes a fresh one from the
template, ``--nomigrations`` gets a template of its own.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import django
from django.conf import settings
from django.core.management import call_command
from django.db import OperationalError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.loader import MigrationLoader

from batches.dbrole import grant_app_role, owner_session

ROOT = Path(__file__).resolve().parent.parent
# Bump when the way a template is built changes, so that existing templates are not reused.
TEMPLATE_FORMAT = "1"
REQUIREMENTS = ("requirements.txt",)
# The baselines' operation lives outside the migration folders: a change to it changes what they build.
MIGRATION_CODE = ("batches/migration_operations.py",)
FINGERPRINT_LENGTH = 16


def schema_fingerprint(*, use_migrations: bool) -> str:
    """A hash of everything the migrated schema depends on: every migration file of every installed app
    (Django's and third-party ones too) and the operation module they use, the installed apps, the pinned
    requirements, the Django version."""
    digest = hashlib.sha256()
    for part in (TEMPLATE_FORMAT, django.get_version(), "migrate" if use_migrations else "syncdb"):
        digest.update(part.encode() + b"\0")
    digest.update("\n".join(settings.INSTALLED_APPS).encode() + b"\0")
    for name in REQUIREMENTS + MIGRATION_CODE:
        digest.update((ROOT / name).read_bytes() + b"\0")
    from django.apps import apps

    for app_config in sorted(apps.get_app_configs(), key=lambda config: config.label):
        module_name, _ = MigrationLoader.migrations_module(app_config.label)
        if module_name is None:
            continue
        try:
            spec = importlib.util.find_spec(module_name)
        except ModuleNotFoundError:
            spec = None
        if spec is None or not spec.submodule_search_locations:
            continue  # an app without migrations
        for folder in spec.submodule_search_locations:
            for path in sorted(Path(folder).rglob("*.py")):
                digest.update(f"{app_config.label}/{path.relative_to(folder)}".encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:FINGERPRINT_LENGTH]


def template_prefix(test_name: str) -> str:
    return f"tmpl_{test_name[:40]}_"  # PostgreSQL names are at most 63 bytes


def shared_test_name(test_name: str) -> str:
    """The test database's name without pytest-xdist's suffix for this process (pytest-django adds
    ``_gw0``, ``_gw1``…): the processes of one run share the template named after it, built once."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return test_name.removesuffix(f"_{worker}") if worker else test_name


@contextmanager
def _server(connection: BaseDatabaseWrapper, lock_name: str) -> Iterator[Any]:
    """A cursor on the maintenance database, holding an advisory lock for ``lock_name``: two runs on the
    same test database build its template once, one after the other."""
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [lock_name])
        try:
            yield cursor
        finally:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [lock_name])


def _database(cursor: Any, name: str) -> tuple[bool, str]:
    """(is it a finished template, the comment naming what it was cloned from); (False, "") when absent."""
    cursor.execute(
        "SELECT datistemplate, coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = %s",
        [name],
    )
    row = cursor.fetchone()
    return (bool(row[0]), str(row[1])) if row else (False, "")


def _exists(cursor: Any, name: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
    return cursor.fetchone() is not None


def _drop(cursor: Any, quote: Any, name: str) -> None:
    cursor.execute(f"ALTER DATABASE {quote(name)} WITH IS_TEMPLATE false")
    cursor.execute(f"DROP DATABASE {quote(name)}")


def _drop_stale_templates(cursor: Any, quote: Any, prefix: str, keep: str) -> None:
    cursor.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s) AND datname <> %s", [prefix, keep])
    for (name,) in cursor.fetchall():
        if not re.fullmatch(f"[0-9a-f]{{{FINGERPRINT_LENGTH}}}", name[len(prefix) :]):
            continue  # the template of another test database whose name starts like this one (test_x_y)
        # One still in use (a run of an older checkout) is dropped by the next run.
        with suppress(OperationalError):
            _drop(cursor, quote, name)


def _build_template(connection: BaseDatabaseWrapper, cursor: Any, template: str, verbosity: int) -> float:
    """Create and migrate ``template``; mark it a template only once complete (an interrupted build is
    not one, and is built again). Returns the seconds it took."""
    quote = connection.ops.quote_name
    started = time.monotonic()
    if _exists(cursor, template):
        _drop(cursor, quote, template)
    cursor.execute(f"CREATE DATABASE {quote(template)}")
    alias, saved = connection.alias, connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = settings.DATABASES[alias]["NAME"] = template
    try:
        # migrate runs as the owner and grants the application role (batches.dbrole); so does the cache table.
        call_command("migrate", verbosity=max(verbosity - 1, 0), interactive=False, database=alias, run_syncdb=True)
        with owner_session():
            call_command("createcachetable", database=alias)
            grant_app_role()
    finally:
        connection.close()
        connection.settings_dict["NAME"] = settings.DATABASES[alias]["NAME"] = saved
    # No connections: autovacuum then leaves it alone, so that nothing blocks CREATE DATABASE ... TEMPLATE.
    cursor.execute(f"ALTER DATABASE {quote(template)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")
    return time.monotonic() - started


def _clone(cursor: Any, quote: Any, template: str, test_name: str) -> None:
    for attempt in range(20):
        try:
            cursor.execute(f"CREATE DATABASE {quote(test_name)} TEMPLATE {quote(template)}")
            break
        except OperationalError:
            # "source database is being accessed by other users": another run is cloning it right now.
            if attempt == 19:
                raise
            time.sleep(0.5)
    cursor.execute(f"COMMENT ON DATABASE {quote(test_name)} IS %s", [template])


def setup_test_databases(
    *, aliases: set[str], serialized_aliases: set[str], keepdb: bool, use_migrations: bool, verbosity: int
) -> list[tuple[BaseDatabaseWrapper, str, bool]]:
    """Point every alias at its test database, cloned from the current template (built when missing).

    Returns the configuration Django's ``teardown_databases`` takes.
    """
    fingerprint = schema_fingerprint(use_migrations=use_migrations)
    old_config = []
    for alias in sorted(aliases):
        connection = connections[alias]
        quote = connection.ops.quote_name
        test_name = connection.creation._get_test_db_name()
        prefix = template_prefix(shared_test_name(test_name))
        template = prefix + fingerprint
        with _server(connection, prefix) as cursor:
            ready, _ = _database(cursor, template)
            if not ready:
                seconds = _build_template(connection, cursor, template, verbosity)
                connection.creation.log(f"Built template {template} in {seconds:.0f} s.")
                _drop_stale_templates(cursor, quote, prefix, keep=template)
            exists = _exists(cursor, test_name)
            reuse = keepdb and exists and _database(cursor, test_name)[1] == template
            if not reuse:
                if exists:
                    cursor.execute(f"DROP DATABASE {quote(test_name)}")
                _clone(cursor, quote, template, test_name)
        if verbosity >= 1:
            action = "Using existing" if reuse else "Cloned"
            connection.creation.log(f"{action} test database {test_name} (template {template}).")
        old_name = connection.settings_dict["NAME"]
        connection.close()
        connection.settings_dict["NAME"] = settings.DATABASES[alias]["NAME"] = test_name
        if alias in serialized_aliases:
            connection._test_serialized_contents = connection.creation.serialize_db_to_string()  # type: ignore[attr-defined]
        connection.ensure_connection()
        old_config.append((connection, old_name, not keepdb))
    return old_config
