"""Who gets past the gate: every API operation × every role, a role-less user and the anonymous caller.

The operations come from the OpenAPI schema, generated in-process; the expected outcome of each
(operation, principal) is in tests/permission_matrix.csv. ``ok``: the request got past the gate (2xx,
or 400/404/409...: the service answered); ``deny``: 401 or 403. An operation missing from the table
fails the test, so a new endpoint is classified the day it is added (docs/security.md).

Each request runs in a savepoint rolled back afterwards: every principal meets the same records.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.db import transaction
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from batches.models import BatchDocument
from tests.factories import Personas, make_user
from tests.helpers import client_for
from tests.test_service_contracts import World

pytestmark = pytest.mark.django_db
TABLE = Path(__file__).with_name("permission_matrix.csv")
ROLES = ["operator", "verifier", "qc_analyst", "qa_reviewer", "qualified_person", "clinician", "auditor", "admin"]
PRINCIPALS = [*ROLES, "roleless", "anonymous"]
# Answering without a role is the point of these: logging in, and checking a PDF someone was handed.
PUBLIC = frozenset({"auth_token_create", "verify_create"})
# One's own account (its roles, none here) and ending one's own API access: never batch data.
OWN_ACCOUNT = frozenset({"auth_me_retrieve", "auth_logout_create"})
# Set to write the table from what the API answers now (then review the diff before committing it).
REWRITE = os.environ.get("CELLBATCH_WRITE_PERMISSION_MATRIX") == "1"


def schema_operations() -> list[dict[str, Any]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            found.append(
                {
                    "operationId": operation["operationId"],
                    "method": method.upper(),
                    "path": path,
                    "body": body and schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]],
                    "components": schema["components"]["schemas"],
                }
            )
    return found


def a_document(world: World, people: Personas) -> BatchDocument:
    from batches.models import DocumentKind
    from batches.release import documents

    return documents.document_request(batch=world.batch, kind=DocumentKind.ON_REQUEST, actor=people.qa, reason="")


def expected_table() -> dict[str, dict[str, str]]:
    with TABLE.open(newline="") as handle:
        return {row["operationId"]: row for row in csv.DictReader(handle)}


def url_of(world: World, path: str, people: Personas, document: BatchDocument) -> str:
    """The operation's address with ids of real rows."""
    if path.startswith("/api/v1/documents/{id}"):
        return path.replace("{id}", str(document.pk))
    url = path.replace("{user_id}", str(people.operator.pk))
    for param in ("{id}", "{batch_id}", "{step_id}"):
        url = url.replace(param, str(world.path_id(path)))
    return url


def clients(people: Personas) -> dict[str, APIClient]:
    persona = {"qa_reviewer": "qa", "qualified_person": "qp"}
    found = {role: client_for(getattr(people, persona.get(role, role)), "api") for role in ROLES}
    found["roleless"] = client_for(make_user("nobody"), "api")
    found["anonymous"] = APIClient()
    for client in found.values():
        client.raise_request_exception = False
    return found


def outcome(status: int) -> str:
    return "deny" if status in (401, 403) else "ok"


@pytest.mark.urs("URS-200", "URS-201")
def test_every_operation_answers_every_principal_as_the_permission_table_says(people: Personas) -> None:
    world = World(people)
    document = a_document(world, people)
    operations = schema_operations()
    table = {} if REWRITE else expected_table()
    unclassified = sorted(op["operationId"] for op in operations if op["operationId"] not in table)
    assert REWRITE or not unclassified, f"classify these operations in {TABLE.name}: {unclassified}"
    stale = sorted(set(table) - {op["operationId"] for op in operations})
    assert not stale, f"{TABLE.name} names operations the API no longer has: {stale}"
    # The table itself may not open a hole: without a role, only the public and own-account operations.
    opened = [
        f"{name} for {who}"
        for name, row in table.items()
        for who, allowed in (("roleless", PUBLIC | OWN_ACCOUNT), ("anonymous", PUBLIC))
        if row[who] != "deny" and name not in allowed
    ]
    assert opened == []
    callers = clients(people)
    everyone = client_for(world.user, "api")
    observed: dict[str, dict[str, str]] = {}
    mismatches, errors = [], []
    for op in operations:
        url = url_of(world, op["path"], people, document)
        body = {}
        if op["body"] is not None:
            body = {name: world.value(name, spec, op["components"]) for name, spec in op["body"]["properties"].items()}
        etag = everyone.get(url).headers.get("ETag", "") if op["method"] == "PATCH" else ""
        row = {"operationId": op["operationId"], "method": op["method"], "path": op["path"]}
        for principal, client in callers.items():
            savepoint = transaction.savepoint()
            try:
                if op["method"] == "GET":
                    response = client.get(url)
                else:
                    send = getattr(client, op["method"].lower())
                    response = send(url, body, format="json", HTTP_IF_MATCH=etag)
            finally:
                transaction.savepoint_rollback(savepoint)
            if response.status_code >= 500:
                errors.append(f"{op['method']} {op['path']} as {principal}: {response.status_code}")
            row[principal] = outcome(response.status_code)
            expected = table.get(op["operationId"], {}).get(principal)
            if not REWRITE and row[principal] != expected:
                mismatches.append(f"{op['operationId']} as {principal}: {response.status_code}, table says {expected}")
        observed[op["operationId"]] = row
    if REWRITE:
        with TABLE.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, ["operationId", "method", "path", *PRINCIPALS], lineterminator="\n")
            writer.writeheader()
            writer.writerows(sorted(observed.values(), key=lambda r: (r["path"], r["method"])))
    assert errors == []
    assert mismatches == []


def admin_url_arguments(world: World, people: Personas, document: BatchDocument) -> dict[str, Any]:
    """A real value for every argument name of a custom admin URL."""
    step = world.batch.gcsf_administrations.first()
    return {
        "object_id": world.batch.pk,
        "batch_id": world.batch.pk,
        "kind": "gcsf",
        "step_id": step.pk if step else 1,
        "action": "cancel",
        "fmt": "csv",
        "document_id": document.pk,
        "user_id": people.operator.pk,
        "slug": "verify-steps",
    }


def custom_admin_urls(world: World, people: Personas, document: BatchDocument) -> list[str]:
    from batches.models import DocumentVersion, ProcessDefinition, TrainingRecord
    from qc.models import Specification

    values = admin_url_arguments(world, people, document)
    # <int:pk> names a different record on each page.
    pk_of = {
        "qc/specification/": Specification.objects.first().pk,
        "qc/qcresult/": world.result.pk,
        "qc/qcsample/": world.result.sample_id,
        "qc/deviation/": world.deviation.pk,
        "batches/processdefinition/": ProcessDefinition.objects.first().pk,
        # Pages of records the world may not hold: an unknown id is still refused before it is looked up.
        "qc/oosinvestigation/": 999_999,
        "qc/reportabilityassessment/": 999_999,
        "batches/documentversion/": DocumentVersion.objects.first().pk,
        "batches/trainingrecord/": TrainingRecord.objects.first().pk,
    }
    urls = []
    for pattern in admin.site.custom_urls():  # type: ignore[attr-defined]
        route = str(pattern.pattern)
        url = route
        for converter in pattern.pattern.converters:
            record = next((v for k, v in pk_of.items() if route.startswith(k)), None)
            value = record if record is not None and converter in ("pk", "object_id") else values[converter]
            for kind in ("int", "str", "slug"):
                url = url.replace(f"<{kind}:{converter}>", str(value))
        urls.append(f"/admin/{url}")
    return urls


def refused_page(client: Any, url: str) -> tuple[int, str]:
    response = client.get(url)
    return response.status_code, response.headers.get("Location", "")


@pytest.mark.urs("URS-202")
def test_no_custom_admin_page_answers_a_roleless_staff_user_or_the_anonymous(people: Personas) -> None:
    from django.test import Client

    from tests.helpers import staff_client_for

    world = World(people)
    document = a_document(world, people)
    urls = custom_admin_urls(world, people, document)
    assert len(urls) >= 25
    callers = {"roleless staff": staff_client_for(make_user("nobody")), "anonymous": Client()}
    answered = []
    for url in urls:
        for name, client in callers.items():
            client.raise_request_exception = False
            for method in ("get", "post"):
                savepoint = transaction.savepoint()
                try:
                    response = getattr(client, method)(url)
                finally:
                    transaction.savepoint_rollback(savepoint)
                status, location = response.status_code, response.headers.get("Location", "")
                if status == 302 and "/admin/login/" not in location:
                    # Sent elsewhere with a message (a refused download): that page must refuse too.
                    status, location = refused_page(client, location)
                refused = status in (403, 404, 405) or (status == 302 and "/admin/login/" in location)
                moved = status == 301 and location.startswith("/admin/")  # an old address: its new one is walked too
                if not (refused or moved):
                    answered.append(f"{method.upper()} {url} as {name}: {status} {location}")
    assert answered == []
