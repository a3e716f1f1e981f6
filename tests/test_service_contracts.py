"""Every write endpoint keeps its service's keyword contract: a body missing any field answers 4xx, never 5xx.

The endpoints and their bodies come from the OpenAPI schema, generated in-process, so a new endpoint
is covered the day it is added.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from batches.models import Batch, CustodyEvent, Equipment, GcsfAdministration, Material, MaterialLot, Patient
from batches.roles import Role
from qc.models import QcResult, Specification
from qc.services import deviations
from tests.factories import PASSWORD, Personas, make_user, quarantined_batch, record_result
from tests.helpers import client_for

pytestmark = pytest.mark.django_db
WRITE_METHODS = ("post", "put", "patch")
# Everything but the administrator, whose role bars batch data: one user reaches every service.
ALL_GMP_ROLES = [role for role in Role if role != Role.ADMIN]
# Values the schema alone cannot suggest (model validators that it does not show).
PLAUSIBLE = {"body_weight_kg": "62.5", "sponsor_contact_email": "qa@example.org", "temperature_c": "4.0"}


@pytest.mark.urs("URS-163")
def test_enrolling_a_patient_without_eligibility_answers_400_not_500(people: Personas) -> None:
    client = client_for(people.operator, "token")
    body = {"subject_code": "IGX1-S091", "consent_date": str(timezone.localdate()), "body_weight_kg": "60.0"}
    response = client.post("/api/v1/patients/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json() == {"eligibility_confirmed": ["This field is required."]}
    assert not Patient.objects.filter(subject_code="IGX1-S091").exists()
    response = client.post("/api/v1/patients/", {**body, "eligibility_confirmed": True}, format="json")
    assert response.status_code == 201, response.content


class World:
    """One of each record an endpoint's path or body can name."""

    def __init__(self, people: Personas) -> None:
        self.batch = quarantined_batch(people)
        self.result = record_result(people, self.batch, "viability", "95.0", "%")
        self.sample = self.result.sample
        self.deviation = deviations.deviation_open(
            actor=people.qa,
            batch_id=self.batch.pk,
            kind="planned",
            classification="minor",
            description="A planned change of tubing set.",
        )
        self.user: User = make_user("everyone", *ALL_GMP_ROLES)

    def path_id(self, path: str) -> int:
        """The id to put in a path's {id}, {batch_id} or {step_id}."""
        collection = path.split("/")[3]
        if collection in {"batches"}:
            return self.batch.pk
        if collection == "steps":
            kind = path.split("/")[4]
            step: Any = getattr(self.batch, {"gcsf": "gcsf_administrations", "apheresis": "apheresis"}.get(kind, kind))
            return int(step.first().pk if hasattr(step, "first") else step.pk)
        records: dict[str, Any] = {
            "custody-events": CustodyEvent.objects.filter(batch=self.batch).first(),
            "deviations": self.deviation,
            "qc-results": self.result,
            "specifications": Specification.objects.first(),
            "process-definitions": self.batch.process_definition,
            # The demo register's: a path naming one reaches its service, not a 404.
            "equipment": Equipment.objects.order_by("pk").first(),
            "materials": Material.objects.order_by("pk").first(),
            "material-lots": MaterialLot.objects.order_by("pk").first(),
        }
        record = records.get(collection)
        return record.pk if record is not None else 1

    def value(self, name: str, spec: dict[str, Any], components: dict[str, Any]) -> Any:
        """A plausible value of a body property (ids name this world's records)."""
        ids = {
            "batch": self.batch.pk,
            "patient": self.batch.patient_id,
            "process_definition": self.batch.process_definition_id,
            "sample": self.sample.pk,
            "custody_event": CustodyEvent.objects.filter(batch=self.batch).values_list("pk", flat=True).first(),
        }
        if name in ids:
            return ids[name]
        if name in PLAUSIBLE:
            return PLAUSIBLE[name]
        if name == "password":
            return PASSWORD
        if name == "otp_token":
            return ""
        for key in ("allOf", "oneOf"):
            if key in spec:
                spec = spec[key][0]
        if "$ref" in spec:
            spec = components[spec["$ref"].rsplit("/", 1)[-1]]
        if "enum" in spec:
            return next(v for v in spec["enum"] if v)
        kind, fmt = spec.get("type"), spec.get("format")
        now = timezone.now() - timedelta(minutes=1)
        if fmt == "date-time":
            return now.isoformat()
        if fmt == "date":
            return str(now.date())
        if fmt == "decimal":
            return "1.0"
        if kind == "integer":
            return max(1, spec.get("minimum", 1))
        if kind == "boolean":
            return True
        if kind == "array":
            return []
        if kind == "string":
            return "IGX1-S099" if name == "subject_code" else "Contract test value"[: spec.get("maxLength", 100)]
        return {}


def write_operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    components = schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method not in WRITE_METHODS:
                continue
            content = operation.get("requestBody", {}).get("content", {})
            body = content.get("application/json", {}).get("schema")
            if body is None:
                continue  # no JSON body (an upload, or an action without input): nothing to omit
            found.append((method, path, components[body["$ref"].rsplit("/", 1)[-1]]))
    return found


def extremes(spec: dict[str, Any]) -> list[Any]:
    """Values at or past the edge of what a property's type can hold."""
    kind, fmt = spec.get("type"), spec.get("format")
    if fmt == "date-time":
        return ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]
    if fmt == "date":
        return ["0001-01-01", "9999-12-31"]
    if fmt == "decimal":
        return ["1" + "0" * 30, "-" + "9" * 30, "0.00000000001"]
    if kind == "integer":
        return [10**30, -(10**30)]
    if kind == "string":
        return ["x" * 100_000]
    return []


def probe(people: Personas, variants: Any) -> list[str]:
    """Send every write endpoint the bodies ``variants(full body, schema properties)`` yields; list the 5xx."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    world = World(people)
    client = client_for(world.user, "token")
    client.raise_request_exception = False
    failures, tried = [], 0
    for method, path, body_schema in write_operations(schema):
        url = path
        for param in ("{id}", "{batch_id}", "{step_id}"):
            url = url.replace(param, str(world.path_id(path)))
        properties = body_schema["properties"]
        full = {name: world.value(name, spec, components) for name, spec in properties.items()}
        for label, body in variants(full, properties):
            # A correction needs the step's current ETag, or it stops before the service.
            etag = client.get(url).headers.get("ETag", "") if method == "patch" else ""
            response = getattr(client, method)(url, body, format="json", HTTP_IF_MATCH=etag)
            tried += 1
            if response.status_code >= 500:
                failures.append(f"{method.upper()} {path} {label}: {response.status_code}")
    assert tried > 150
    return failures


@pytest.mark.urs("URS-163")
def test_every_write_endpoint_answers_4xx_when_any_field_is_omitted(people: Personas) -> None:
    def omissions(full: dict[str, Any], properties: dict[str, Any]) -> Any:
        for omitted in full:
            yield f"without {omitted}", {k: v for k, v in full.items() if k != omitted}

    assert probe(people, omissions) == []


@pytest.mark.urs("URS-164")
def test_every_write_endpoint_answers_4xx_to_values_at_the_edge_of_their_type(people: Personas) -> None:
    def edges(full: dict[str, Any], properties: dict[str, Any]) -> Any:
        for name, spec in properties.items():
            for value in extremes(spec):
                yield f"{name}={str(value)[:24]}", {**full, name: value}

    assert probe(people, edges) == []


@pytest.mark.urs("URS-163")
def test_the_anonymous_and_roleless_answers_are_4xx_for_every_write_endpoint(people: Personas) -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    roleless = APIClient()
    roleless.force_authenticate(make_user("nobody"))
    for client in (APIClient(), roleless):
        client.raise_request_exception = False
        for method, path, _ in write_operations(schema):
            url = path.replace("{id}", "1").replace("{batch_id}", "1").replace("{step_id}", "1")
            response = getattr(client, method)(url, {}, format="json")
            assert 400 <= response.status_code < 500, (method, path, response.status_code)
    assert Batch.objects.count() == 0
    assert GcsfAdministration.objects.count() == 0
    assert QcResult.objects.count() == 0
