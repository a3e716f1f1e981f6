"""What every test process's database holds before its first test: the staff and the stores.

Nearly every test needs the same people (``tests.factories.Personas``: one trained account per role,
with the SOP register they are trained on) and, as soon as it walks a batch, the demo register of
materials, lots and equipment (``batches.register_demo.ensure_register``). Built through the real
services in every test, they cost about 1,100 queries and a second of each test. They are therefore
built once per test process, through the same services, and committed: each test then starts from
them, and its own changes roll back with it as before.

A transactional test ends by emptying every table (Django's flush), baseline included; the baseline
is built again straight after, so the next test finds it as every test does. The factories keep
working without it (they create what is missing), so a test never depends on the baseline being
there, only on what the factories give it.
"""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test.utils import override_settings

# The suite's hasher (tests/conftest.py, fast_password_hashing): a baseline password hashed with another
# hasher could not be checked by a test.
TEST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def build_baseline() -> None:
    """The personas and the demo register, committed (idempotent: what exists is left as it is)."""
    from batches import register_demo
    from tests.factories import Personas, cast

    ContentType.objects.clear_cache()  # a flush has just emptied the table the cache points into
    with override_settings(PASSWORD_HASHERS=TEST_HASHERS), transaction.atomic():
        people = Personas()
        register_demo.ensure_register(cast(people))
