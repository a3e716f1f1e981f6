"""Hostile request bodies and URLs: every answer under /api/ is JSON with a 4xx code, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import RequestDataTooBig
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from batches.api import errors
from batches.api.parsers import MAX_DEPTH, nesting_depth
from batches.models import Patient
from tests.factories import PASSWORD, Personas
from tests.helpers import client_for

pytestmark = pytest.mark.django_db
API = "/api/v1"


def json_error(response: Any, code: int) -> dict[str, Any]:
    """The response is ``code`` with a JSON body (never Django's HTML page)."""
    body = response.content.decode()[:300]
    assert response.status_code == code, body
    assert response["Content-Type"].startswith("application/json"), (response["Content-Type"], body)
    parsed = json.loads(response.content)
    assert isinstance(parsed, dict)
    return parsed


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def anonymous() -> APIClient:
    client = APIClient()
    client.raise_request_exception = False  # a 500 must show as a 500 here, not as a test error
    return client


@pytest.mark.urs("URS-160")
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 100_000])
def test_deeply_nested_json_is_refused_anonymously_with_400(depth: int) -> None:
    response = anonymous().post(f"{API}/auth/token/", nested(depth), content_type="application/json")
    assert f"more than {MAX_DEPTH} levels" in json_error(response, 400)["detail"]


@pytest.mark.urs("URS-160")
def test_nesting_at_the_limit_is_parsed_and_deeper_objects_are_refused(people: Personas) -> None:
    client = client_for(people.operator, "token")
    client.raise_request_exception = False
    at_limit: Any = "x"
    for _ in range(MAX_DEPTH - 1):
        at_limit = [at_limit]
    answer = json_error(client.post(f"{API}/batches/", {"patient": at_limit}, format="json"), 400)
    assert "patient" in answer  # parsed, then refused by the serializer
    too_deep: Any = {}
    for _ in range(MAX_DEPTH + 1):
        too_deep = {"a": too_deep}
    answer = json_error(client.post(f"{API}/batches/", too_deep, format="json"), 400)
    assert "levels" in answer["detail"]


def test_nesting_depth_is_measured_without_recursion() -> None:
    deep: Any = []
    for _ in range(50_000):
        deep = [deep]
    assert nesting_depth(deep) == MAX_DEPTH + 1  # stops counting once past the limit
    assert nesting_depth({"a": [1, {"b": []}], "c": 2}) == 4
    assert nesting_depth(7) == 0


@pytest.mark.urs("URS-160")
@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused(people: Personas, constant: str) -> None:
    client = client_for(people.operator, "token")
    body = f'{{"subject_code": "IGX1-S090", "consent_date": "2026-01-01", "body_weight_kg": {constant}}}'
    answer = json_error(client.post(f"{API}/patients/", body, content_type="application/json"), 400)
    assert "finite" in answer["detail"]
    assert not Patient.objects.exists()


@pytest.mark.urs("URS-160")
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{", "application/json"),
        (b"\xff\xfe{", "application/json"),
        ('{"username": "x"}', "application/json; charset=no-such-charset"),
    ],
)
def test_malformed_json_answers_400(body: Any, content_type: str) -> None:
    json_error(anonymous().post(f"{API}/auth/token/", body, content_type=content_type), 400)


@pytest.mark.urs("URS-161")
def test_a_ten_megabyte_body_answers_413_json(people: Personas) -> None:
    big = '{"reason": "' + "x" * 10_000_000 + '"}'
    answer = json_error(anonymous().post(f"{API}/auth/token/", big, content_type="application/json"), 413)
    assert "larger than" in answer["detail"]
    client = client_for(people.operator, "token")
    client.raise_request_exception = False
    json_error(client.post(f"{API}/patients/", big, content_type="application/json"), 413)


@pytest.mark.urs("URS-161")
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/no-such-thing/",
        "/api/v1/batches/999999/",
        "/api/v1/batches/abc/",
        "/api/v1/batches/abc/qc/",
        "/api/v1/batches/99999999999999999999999/",
        "/api/v1/batches/99999999999999999999999/qc/",
        "/api/v1/qc-results/99999999999999999999999/",
        "/api/v1/steps/gcsf/99999999999999999999999/",
        "/api/v1/steps/gcsf/abc/",
        "/api/v2/batches/",
    ],
)
def test_unknown_urls_and_ids_answer_404_json(people: Personas, path: str) -> None:
    client = client_for(people.auditor, "token")
    client.raise_request_exception = False
    json_error(client.get(path), 404)


@pytest.mark.urs("URS-161")
def test_wrong_method_and_media_type_answer_json(people: Personas) -> None:
    client = client_for(people.operator, "token")
    json_error(client.delete(f"{API}/qc-results/"), 405)
    json_error(client.post(f"{API}/batches/", "patient=1", content_type="text/plain"), 415)


@pytest.mark.urs("URS-161")
def test_django_error_handlers_answer_json_under_api_and_html_elsewhere() -> None:
    factory = RequestFactory()
    api, page = factory.get("/api/v1/batches/"), factory.get("/admin/")
    for response, code in [
        (errors.bad_request(api, ValueError("x")), 400),
        (errors.bad_request(api, RequestDataTooBig()), 413),
        (errors.permission_denied(api, PermissionError("No.")), 403),
        (errors.page_not_found(api, LookupError()), 404),
        (errors.server_error(api), 500),
    ]:
        json_error(response, code)
    for response in [errors.page_not_found(page, LookupError()), errors.server_error(page)]:
        assert response["Content-Type"].startswith("text/html")


@pytest.mark.urs("URS-161")
def test_pages_outside_the_api_keep_html_404(client: Client, people: Personas) -> None:
    client.force_login(people.auditor)
    response = client.get("/admin/batches/batch/999999/change/nothing/")
    assert response.status_code in (302, 404)
    assert not response["Content-Type"].startswith("application/json")


@pytest.mark.urs("URS-160")
def test_a_login_with_an_overlong_password_is_refused_as_input(people: Personas) -> None:
    body = {"username": "operator", "password": PASSWORD + "x" * 5_000}
    answer = json_error(anonymous().post(f"{API}/auth/token/", body, format="json"), 400)
    assert "password" in answer


# --- The hostile-input table: one row per attack, each answered 4xx with nothing written ------------------
PATIENT = '{"subject_code": "IGX1-S093", "consent_date": "2026-01-01", "body_weight_kg": "60.0"'
HOSTILE = [
    # (label, persona, method, path, body, content type, expected status)
    ("a 2,000,000-character description", "qa", "post", "/deviations/", "DESCRIPTION", "application/json", 400),
    (
        "a patient without eligibility_confirmed",
        "operator",
        "post",
        "/patients/",
        PATIENT + "}",
        "application/json",
        400,
    ),
    (
        "a numeric overflow",
        "operator",
        "post",
        "/patients/",
        PATIENT.replace('"60.0"', "1" + "0" * 400) + ', "eligibility_confirmed": true}',
        "application/json",
        400,
    ),
    (
        "a NUL byte in a text field",
        "operator",
        "post",
        "/patients/",
        PATIENT.replace("IGX1-S093", "IGX1\\u0000S093") + ', "eligibility_confirmed": true}',
        "application/json",
        400,
    ),
    (
        "an invalid UTF-8 body",
        "operator",
        "post",
        "/patients/",
        b'{"subject_code": "\xc3\x28\xff"}',
        "application/json",
        400,
    ),
    ("a wrong Content-Type", "operator", "post", "/patients/", "<patient/>", "application/xml", 415),
    ("a huge integer id in the URL", "auditor", "get", "/deviations/99999999999999999999999999999/", None, None, 404),
    (
        "a huge id in an action URL",
        "qa",
        "post",
        "/batches/99999999999999999999999999/release/",
        "{}",
        "application/json",
        404,
    ),
    ("a negative page number", "auditor", "get", "/patients/?page=-1", None, None, 404),
    ("a forged list cursor", "auditor", "get", "/batches/?cursor=%00%ff-not-a-cursor", None, None, 404),
    (
        "a 10,000-element JSON array as the body",
        "operator",
        "post",
        "/patients/",
        "[" + ",".join(["1"] * 10_000) + "]",
        "application/json",
        400,
    ),
    (
        "a 10,000-element JSON array as a field",
        "operator",
        "post",
        "/patients/",
        '{"subject_code": [' + ",".join(['"x"'] * 10_000) + "]}",
        "application/json",
        400,
    ),
]


@pytest.mark.urs("URS-203")
@pytest.mark.parametrize(
    ("persona", "method", "path", "body", "content_type", "status"),
    [pytest.param(*row[1:], id=row[0]) for row in HOSTILE],
)
def test_the_hostile_input_table(
    people: Personas, persona: str, method: str, path: str, body: Any, content_type: Any, status: int
) -> None:
    from tests.factories import walk_batch
    from tests.helpers import nothing_written

    batch = walk_batch(people, "mobilization")
    if body == "DESCRIPTION":
        body = json.dumps(
            {"batch": batch.pk, "kind": "unplanned", "classification": "minor", "description": "x" * 2_000_000}
        )
    client = client_for(getattr(people, persona), "token")
    client.raise_request_exception = False
    with nothing_written(path):
        if body is None:
            response = getattr(client, method)(f"{API}{path}")
        else:
            response = getattr(client, method)(f"{API}{path}", body, content_type=content_type)
    json_error(response, status)
