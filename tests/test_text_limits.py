"""Every free-text value has a maximum length: in the models, the API's request bodies and the admin's forms."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest
from django import forms
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from batches import limits
from qc.models import Deviation
from tests.factories import Personas, quarantined_batch
from tests.helpers import client_for

# Columns written only by the system, never typed by anyone, whose size the system itself sets
# (the same columns in the audit event tables, <Model>Event, are exempt for the same reason).
EXEMPT_COLUMNS = {
    "batches.ElectronicSignature.content": "the canonical JSON of the signed record, as large as the record",
    "qc.Notification.body": "the e-mail the system composes from the deviation's own bounded fields",
    "batches.IntegrityFinding.problem": "the line verification composes from table names, ids and bounded text",
    "batches.SchemaChange.statement": "written by a PostgreSQL event trigger (its first 2,000 characters)",
    "batches.SchemaChange.object_identity": "written by a PostgreSQL event trigger (a qualified object name)",
    "batches.LabelPrint.specimen_zpl": "the ZPL the system writes for one label from the record's own fields",
    "batches.LabelPrint.specimen_pdf": "the PDF (base64) the system renders for one label",
}
# Columns of the audit event tables that database triggers fill (label, actor, database role).
TRIGGER_COLUMNS = {"pgh_label", "pgh_actor", "pgh_db_role"}


def exempt(name: str) -> bool:
    app, model, field = name.split(".")
    tracked = model.removesuffix("Event")
    return (
        field in TRIGGER_COLUMNS
        or f"{app}.{model}.{field}" in EXEMPT_COLUMNS
        or (f"{app}.{tracked}.{field}" in EXEMPT_COLUMNS)
    )


# Django's own new-password fields of the administrators' user-creation form, judged by the password validators.
EXEMPT_FORM_FIELDS = {"UserCreationForm.password1", "UserCreationForm.password2"}
# Request-body strings that need no maxLength: uploads are files, bounded by the upload size limits.
EXEMPT_REQUEST_STRINGS = {("VerifyUploadRequest", "file")}
ADMIN_FORM_MODULES = [
    "batches.admin.accounts",
    "batches.admin.common",
    "batches.admin.desk_forms",
    "batches.admin.forms",
    "batches.admin.imports",
    "qc.admin.common",
    "qc.admin.deviations",
    "qc.views.review",
    "qc.admin.specifications",
    "qc.admin.testing",
]


def text_columns() -> list[tuple[str, models.Field[Any, Any]]]:
    found = []
    for app in ("batches", "qc"):
        for model in apps.get_app_config(app).get_models():
            if model._meta.proxy:
                continue
            for field in model._meta.concrete_fields:
                if isinstance(field, models.CharField | models.TextField):
                    found.append((f"{app}.{model.__name__}.{field.name}", field))
    return found


@pytest.mark.urs("URS-162")
def test_every_text_column_of_both_apps_has_a_maximum_length() -> None:
    columns = text_columns()
    assert len(columns) > 100  # both apps, with their audit event tables
    unbounded = [name for name, field in columns if field.max_length is None and not exempt(name)]
    assert unbounded == []
    # A TextField's limit is checked by full_clean() too, not only by forms and serializers.
    unchecked = [
        name
        for name, field in columns
        if isinstance(field, models.TextField)
        and field.max_length is not None
        and not any(isinstance(v, MaxLengthValidator) for v in field.validators)
    ]
    assert unchecked == []
    # The exemptions name real columns, so the list cannot silently outlive them.
    assert set(EXEMPT_COLUMNS) <= {name for name, _ in columns}


@pytest.mark.urs("URS-162")
def test_every_string_in_an_api_request_body_has_a_maximum_length() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    unbounded = []
    for name, component in schema["components"]["schemas"].items():
        if not name.endswith("Request"):
            continue
        for field, spec in component.get("properties", {}).items():
            variants = spec.get("oneOf", [spec])
            for variant in variants:
                if variant.get("type") != "string" or "enum" in variant or (name, field) in EXEMPT_REQUEST_STRINGS:
                    continue
                if variant.get("format") in {"date", "date-time", "decimal"}:
                    continue  # parsed into a bounded type before any service sees it
                if "maxLength" not in variant:
                    unbounded.append(f"{name}.{field}")
    assert unbounded == []


def admin_form_classes() -> list[type[forms.BaseForm]]:
    found: dict[str, type[forms.BaseForm]] = {}
    for module_name in ADMIN_FORM_MODULES:
        module = importlib.import_module(module_name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, forms.BaseForm) and value.__module__.split(".")[0] in {"batches", "qc"}:
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


@pytest.mark.urs("URS-162")
def test_every_text_field_of_the_admin_forms_has_a_maximum_length() -> None:
    classes = admin_form_classes()
    assert len(classes) > 20
    unbounded = [
        f"{form.__module__}.{form.__name__}.{name}"
        for form in classes
        for name, field in form.base_fields.items()  # type: ignore[attr-defined]
        if isinstance(field, forms.CharField) and field.max_length is None
        if f"{form.__name__}.{name}" not in EXEMPT_FORM_FIELDS
    ]
    assert unbounded == []


@pytest.mark.urs("URS-162")
@pytest.mark.django_db
def test_an_overlong_deviation_description_is_refused_by_the_api_and_nothing_is_written(people: Personas) -> None:
    batch = quarantined_batch(people)
    client = client_for(people.qa, "token")
    body = {"batch": batch.pk, "kind": "unplanned", "classification": "minor", "description": "x" * 2_000_000}
    response = client.post("/api/v1/deviations/", body, format="json")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["description"] == [f"Ensure this field has no more than {limits.DESCRIPTION} characters."]
    assert not Deviation.objects.exists()
    body["description"] = "x" * limits.DESCRIPTION
    assert client.post("/api/v1/deviations/", body, format="json").status_code == 201


@pytest.mark.urs("URS-162")
@pytest.mark.django_db
def test_an_overlong_reason_is_refused_by_the_api_and_by_the_model(people: Personas) -> None:
    batch = quarantined_batch(people)
    client = client_for(people.operator, "token")
    response = client.post(f"/api/v1/batches/{batch.pk}/cancel/", {"reason": "x" * 3_000}, format="json")
    assert response.status_code == 400
    assert str(limits.REASON) in response.json()["reason"][0]
    batch.refresh_from_db()
    assert batch.status == "quarantine"
    deviation = Deviation(batch=batch, kind="planned", classification="minor", description="y" * 2_001)
    with pytest.raises(ValidationError) as refused:
        deviation.clean_fields(exclude=["raised_by", "number"])
    assert "at most 2000 characters" in str(refused.value.message_dict["description"])


@pytest.mark.urs("URS-162")
@pytest.mark.django_db
def test_an_overlong_deviation_description_is_a_form_error_in_the_admin(people: Personas, client: Client) -> None:
    batch = quarantined_batch(people)
    client.force_login(people.qa)
    response = client.post(
        "/admin/qc/deviation/add/",
        {"batch": batch.pk, "kind": "unplanned", "classification": "minor", "description": "x" * 5_000},
    )
    assert response.status_code == 200
    assert f"Ensure this value has at most {limits.DESCRIPTION} characters" in response.content.decode()
    assert not Deviation.objects.exists()
