"""Shared fixtures: personas, and the real services (Redis, Celery worker) some tests need."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.utils import translation
from pytest_django import DjangoDbBlocker

from tests.baseline import build_baseline
from tests.factories import Personas
from tests.template_db import setup_test_databases
from tests.workers import WorkerProcess, running_worker

CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: DjangoDbBlocker,
    django_db_use_migrations: bool,
    django_db_keepdb: bool,
    django_db_createdb: bool,
    django_db_modify_db_settings: None,
) -> Iterator[None]:
    """pytest-django's fixture, but the test database is cloned from a migrated template instead of
    migrated from scratch (minutes of trigger installation); see tests/template_db.py."""
    from django.test.utils import teardown_databases
    from pytest_django.fixtures import _disable_migrations, _get_databases_for_setup

    if not django_db_use_migrations:
        _disable_migrations()
    keepdb = django_db_keepdb and not django_db_createdb
    aliases, serialized_aliases = _get_databases_for_setup(request.session.items)
    verbosity = request.config.option.verbose
    with django_db_blocker.unblock():
        old_config = setup_test_databases(
            aliases=aliases,
            serialized_aliases=serialized_aliases,
            keepdb=keepdb,
            use_migrations=django_db_use_migrations,
            verbosity=verbosity,
        )
        build_baseline()
    yield
    if not keepdb:
        with django_db_blocker.unblock():
            try:
                teardown_databases(old_config, verbosity=verbosity)
            except Exception as exc:
                request.node.warn(pytest.PytestWarning(f"Error when trying to teardown test databases: {exc!r}"))


@pytest.fixture
def people(db: None) -> Personas:
    return Personas()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: pytest.FixtureRequest) -> None:
    """PBKDF2's deliberate slowness protects production logins; tests need none of it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]


@pytest.fixture
def empty_database(db: None) -> None:
    """Every table emptied inside the test's transaction (it rolls back with the test): for the few tests
    about a database that holds nothing yet, not even the baseline the others start from
    (tests/baseline.py). Django's own content types, permissions and migration rows stay."""
    from django.core.management.color import no_style
    from django.db import connection

    kept = {"django_content_type", "auth_permission", "django_migrations"}
    tables = [
        table
        for table in connection.introspection.django_table_names(only_existing=True, include_views=False)
        if table not in kept
    ]
    connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), tables))


@pytest.fixture
def celery_worker(transactional_db: None) -> Iterator[WorkerProcess]:
    """A real worker on the test database and the real broker (data must be committed to be seen)."""
    with running_worker() as worker:
        yield worker


@pytest.fixture(scope="session")
def signing_pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A development CA and seal certificate for the session (paths also usable by a worker's env)."""
    from django.conf import settings

    from batches.pki import create_development_certificates

    folder = tmp_path_factory.mktemp("pki")
    paths = {
        "CELLBATCH_SIGNING_CA": str(folder / "ca-cert.pem"),
        "CELLBATCH_SIGNING_CERT": str(folder / "seal-cert.pem"),
        "CELLBATCH_SIGNING_KEY": str(folder / "seal-key.pem"),
    }
    for name, value in paths.items():
        setattr(settings, name, value)
    create_development_certificates(
        ca_cert_path=folder / "ca-cert.pem",
        seal_cert_path=folder / "seal-cert.pem",
        seal_key_path=folder / "seal-key.pem",
    )
    return paths


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Refused logins and signatures are committed on their own connection (batches.accounts.autonomous),
    so a test's rollback leaves them behind: clear them once the test is torn down, so that no lockout
    count or access-log row carries over to the next test."""
    yield
    used_db = {"db", "transactional_db"} & set(getattr(item, "fixturenames", ())) or item.get_closest_marker(
        "django_db"
    )
    if nextitem is None or not used_db:
        return  # after the last test the test database is already gone
    from axes.models import AccessAttempt
    from django.db import connection
    from pytest_django.plugin import blocking_manager_key

    from batches.models import AccessEvent

    with item.config.stash[blocking_manager_key].unblock():
        AccessAttempt.objects.all().delete()
        if AccessEvent.objects.exists():
            import pgtrigger

            from batches.audit import truncate_guard_uris
            from batches.dbrole import owner_session

            # The access log refuses DELETE and TRUNCATE by design; only this clean-up lifts the guard
            # (as the owner: the application role may not TRUNCATE).
            with owner_session(), pgtrigger.ignore(*truncate_guard_uris()), connection.cursor() as cursor:
                cursor.execute("TRUNCATE batches_accessevent, batches_accesseventevent")


@pytest.fixture(scope="session", autouse=True)
def truncate_guards_off_for_flush() -> Iterator[None]:
    """Transactional tests empty every table with TRUNCATE, which GMP and audit tables refuse: only
    Django's flush is exempt (tests/test_audit_protection.py shows the refusal). The suite otherwise
    runs as the application role (batches.dbrole), which may not TRUNCATE at all. After the flush the
    baseline every test starts from is built again (tests/baseline.py)."""
    import pgtrigger
    from django.db.backends.postgresql.operations import DatabaseOperations
    from django.test import TransactionTestCase

    from batches.audit import truncate_guard_uris

    flush = DatabaseOperations.execute_sql_flush

    def flush_with_guards_off(self: DatabaseOperations, sql_list: list[str]) -> None:
        from batches.dbrole import owner_session

        # TRUNCATE is the owner's: the application role the suite runs as may not empty a table.
        with owner_session(), pgtrigger.ignore(*truncate_guard_uris()):
            flush(self, sql_list)

    teardown = TransactionTestCase._fixture_teardown

    def teardown_then_baseline(self: TransactionTestCase) -> None:
        teardown(self)  # the flush, and the content types and permissions it re-creates
        build_baseline()  # what every test starts from (tests/baseline.py)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "execute_sql_flush", flush_with_guards_off)
        patch.setattr(TransactionTestCase, "_fixture_teardown", teardown_then_baseline)
        yield


@pytest.fixture(autouse=True)
def _site_language() -> Iterator[None]:
    """Each test starts and ends in the site's default language: a request as a Spanish user activates
    Spanish for the rest of its thread, as Django's LocaleMiddleware leaves it."""
    translation.deactivate()
    yield
    translation.deactivate()


def pytest_configure(config: pytest.Config) -> None:
    """Compile the translation catalogues first: the .mo files are built, never committed (scripts/messages.py)."""
    from scripts.messages import compile_all

    compile_all()
