"""The application's database role: not a superuser, not the owner of the tables.

Only the application role may name the audit actor (batches.audit.ACTOR_SQL): any other role's
writes are recorded as ``db:<role>`` whatever context it sets. The role owns nothing and is no
superuser, so it can neither disable a trigger (``ALTER TABLE … DISABLE TRIGGER`` needs the owner,
``session_replication_role`` a superuser) nor change the schema.

- Production: the web, worker and beat processes log in as ``cellbatch_app`` (their DATABASE_URL);
  ``migrate`` runs with the owner's DATABASE_URL and grants the role what it needs afterwards
  (docs/operations.md).
- Development and tests: one DATABASE_URL (the owner, often ``postgres``) serves both. Each new
  connection then switches to the application role (``SET ROLE``) unless
  ``CELLBATCH_DB_APP_ROLE_SWITCH`` is off; ``migrate``, the test suite's flush and the grants run
  as the owner inside :func:`owner_session`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection as default_connection
from django.db.backends.base.base import NO_DB_ALIAS, BaseDatabaseWrapper

from batches.audit import APP_ROLE

_state = threading.local()


def _owner_depth() -> int:
    return int(getattr(_state, "owner", 0))


def switching() -> bool:
    return bool(getattr(settings, "CELLBATCH_DB_APP_ROLE_SWITCH", True))


def assume_app_role(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created``: act as the application role (development and tests, one URL)."""
    if connection.vendor != "postgresql" or connection.alias == NO_DB_ALIAS or _owner_depth() or not switching():
        return
    with connection.connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user = %s, EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s)", [APP_ROLE, APP_ROLE]
        )
        already, exists = cursor.fetchone()
        if already:
            return
        if not exists:
            raise ImproperlyConfigured(
                f"The database role {APP_ROLE} does not exist: run `manage.py migrate` as the owner first "
                "(it creates and grants the role), or have the database administrator create it."
            )
        cursor.execute(f"SET ROLE {APP_ROLE}")


@contextmanager
def owner_session() -> Iterator[None]:
    """Run the block as the session's login role (the owner): migrations, grants, the test flush."""
    _state.owner = _owner_depth() + 1
    switched = default_connection.connection is not None and switching()
    try:
        if switched:
            with default_connection.cursor() as cursor:
                cursor.execute("RESET ROLE")
        yield
    finally:
        _state.owner = _owner_depth() - 1
        if default_connection.connection is not None and switching() and not _owner_depth():
            with default_connection.cursor() as cursor:
                cursor.execute("SELECT current_user = session_user")
                if cursor.fetchone()[0]:
                    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE])
                    if cursor.fetchone():
                        cursor.execute(f"SET ROLE {APP_ROLE}")


GRANTS = (
    "GRANT USAGE ON SCHEMA public TO {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
    "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
)


def grant_app_role() -> None:
    """Create the role when missing (NOLOGIN: development switches to it; production's administrator
    creates it with LOGIN) and grant it the data, never the schema: it owns nothing."""
    with default_connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s), "
            "(SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user)",
            [APP_ROLE],
        )
        exists, may_create = cursor.fetchone()
        if not exists:
            if not may_create:
                raise ImproperlyConfigured(
                    f"The database role {APP_ROLE} is missing and the migrating role may not create it: "
                    f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '…' NOSUPERUSER NOCREATEDB NOCREATEROLE;"
                )
            # Two checkouts on one server may create it at the same moment: the loser's error is harmless.
            cursor.execute(
                "DO $$ BEGIN CREATE ROLE cellbatch_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; "
                "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            )
        for statement in GRANTS:
            cursor.execute(statement.format(role=APP_ROLE))
