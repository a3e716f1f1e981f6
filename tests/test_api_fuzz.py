"""schemathesis against the running app (in-process WSGI, no network): generated requests to every API
operation, as an operator and as a QA reviewer signed in by session, never answer 5xx.

Bounded so the suite stays fast on two cores: a fixed number of examples per operation, a fixed seed
(the same requests every run), no example database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis.checks import not_a_server_error

from config.wsgi import application
from tests.factories import Personas, quarantined_batch

pytestmark = pytest.mark.django_db
EXAMPLES = 6
# Logging out would end the session the remaining requests use.
SKIPPED = frozenset({"auth_logout_create"})
CSRF_SECRET = "s" * 32  # the cookie and the header carry the same secret, as a browser's script would


@pytest.fixture
def wsgi_in_test_transaction(settings: Any) -> Iterator[None]:
    """The app is called as a server would call it, on the test's connection: Django must not close that
    connection at the end of each request (its test client does the same).

    Generated passwords are wrong: without a higher limit the lockout would refuse every later signature
    and the rest of the run would only meet the lock.
    """
    from axes.models import AccessAttempt

    settings.AXES_FAILURE_LIMIT = 1_000_000
    AccessAttempt.objects.all().delete()
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def session_of(user: Any) -> dict[str, str]:
    client = Client()
    client.force_login(user)
    return {django_settings.SESSION_COOKIE_NAME: client.cookies[django_settings.SESSION_COOKIE_NAME].value}


def fuzz(operation: Any, cookies: dict[str, str], seen: list[int]) -> None:
    headers = {"X-CSRFToken": CSRF_SECRET}
    cookies = {**cookies, django_settings.CSRF_COOKIE_NAME: CSRF_SECRET}

    @seed(20260101)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(headers=headers, cookies=cookies)
        seen.append(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])

    run()


@pytest.mark.urs("URS-207")
@pytest.mark.parametrize("persona", ["operator", "qa"])
@pytest.mark.usefixtures("wsgi_in_test_transaction")
def test_generated_requests_to_every_operation_never_answer_5xx(people: Personas, persona: str) -> None:
    quarantined_batch(people)  # real rows for the ids the generator happens to hit
    cookies = session_of(getattr(people, persona))
    # The schema is served to signed-in users only: generate it in-process, as the endpoint does.
    generated = SchemaGenerator().get_schema(request=None, public=True)
    schema = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(generated)))
    schema.app = application
    schema.location = "/api/v1/schema/"
    failures, tried, seen = [], 0, []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.definition.raw.get("operationId") in SKIPPED:
            continue
        tried += 1
        try:
            fuzz(operation, cookies, seen)
        except Exception as error:  # every operation is tried; all failures are reported together
            failures.append(f"{operation.verbose_name}: {str(error)[:500]}")
    assert tried > 90
    # Signed in for real: reads succeed, and most answers are not the gate's refusal.
    assert seen.count(200) > 40
    assert seen.count(403) < len(seen) / 2
    assert failures == []
