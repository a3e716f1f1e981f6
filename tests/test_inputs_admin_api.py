"""The master data of materials and equipment in the admin and the API: scan-first forms, role gates,
QA's signed decisions, and refusals that change nothing."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from batches.accounts.language import account_language_set
from batches.models import ElectronicSignature, Equipment, LineClearance, LotCertificate, Material, MaterialLot
from tests.factories import PASSWORD, Personas, walk_batch
from tests.helpers import assert_nothing_written, client_for, gmp_row_counts

pytestmark = pytest.mark.django_db
CERTIFICATE = b"%PDF-1.4\n% CoA of lot CD133-8001\n%%EOF\n"


@pytest.fixture
def register(people: Personas) -> Personas:
    """The demo register (materials, lots, equipment), as a definition with requirements creates it."""
    walk_batch(people, "registered")
    for user in vars(people).values():
        user.refresh_from_db()  # the register's keeper was saved again when the definition was drafted
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return people


@pytest.mark.urs("URS-347")
def test_a_lot_is_received_by_scan_in_the_admin_and_released_by_qa_with_a_signature(register: Personas) -> None:
    keeper = client_for(register.materials)
    form = keeper.get(reverse("admin:batches_materiallot_add")).content.decode()
    assert "autofocus" in form
    assert 'name="code"' in form
    response = keeper.post(
        reverse("admin:batches_materiallot_add"),
        {
            "code": "L-CD133-8001",
            "material": "MAT-CD133",
            "supplier_lot": "CD133-8001",
            "expiry_date": (timezone.localdate() + timedelta(days=120)).isoformat(),
            "quantity": "10",
            "certificate": SimpleUploadedFile("coa.pdf", CERTIFICATE, content_type="application/pdf"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    lot = MaterialLot.objects.get(code="L-CD133-8001")
    assert (lot.status, lot.certificate_sha256) == ("quarantine", hashlib.sha256(CERTIFICATE).hexdigest())
    assert bytes(LotCertificate.objects.get(lot=lot).content) == CERTIFICATE

    decide = reverse("admin:batches_materiallot_decide", args=[lot.pk])
    assert keeper.get(decide).status_code == 403
    before = gmp_row_counts()
    refused = client_for(register.qa).post(decide, {"status": "rejected", "reason": "", "password": PASSWORD})
    assert refused.status_code == 200
    assert "A reason (at least 5 characters) is required to mark lot L-CD133-8001 rejected." in refused.content.decode()
    assert_nothing_written(before)
    done = client_for(register.qa).post(decide, {"status": "released", "reason": "", "password": PASSWORD})
    assert done.status_code == 302
    lot.refresh_from_db()
    assert lot.status == "released"
    assert ElectronicSignature.objects.on(lot).filter(meaning="approved", signer=register.qa).exists()


@pytest.mark.urs("URS-347")
def test_the_api_receives_decides_and_refuses_with_status_codes(register: Personas) -> None:
    keeper, qa, operator = (client_for(u, "api") for u in (register.materials, register.qa, register.operator))
    material = Material.objects.get(code="MAT-HSA")
    body = {
        "material": material.pk,
        "code": "L-HSA-9990",
        "supplier_lot": "HSA-9990",
        "expiry_date": (timezone.localdate() + timedelta(days=60)).isoformat(),
        "quantity": "20",
        "certificate_name": "coa.pdf",
        "certificate_type": "application/pdf",
        "certificate_base64": base64.b64encode(CERTIFICATE).decode(),
    }
    assert operator.post("/api/v1/material-lots/", body, format="json").status_code == 403
    bad = keeper.post("/api/v1/material-lots/", {**body, "certificate_base64": "not base64!"}, format="json")
    assert bad.status_code == 400
    assert "certificate_base64" in bad.json()
    created = keeper.post("/api/v1/material-lots/", body, format="json")
    assert created.status_code == 201, created.json()
    lot_id = created.json()["id"]
    assert created.json()["status"] == "quarantine"
    assert (
        keeper.post(f"/api/v1/material-lots/{lot_id}/decide/", {"status": "released", "password": PASSWORD}).status_code
        == 403
    )
    released = qa.post(
        f"/api/v1/material-lots/{lot_id}/decide/", {"status": "released", "password": PASSWORD}, format="json"
    )
    assert released.status_code == 200
    again = qa.post(
        f"/api/v1/material-lots/{lot_id}/decide/", {"status": "released", "password": PASSWORD}, format="json"
    )
    assert again.status_code == 409
    assert "is released; it cannot become released" in again.json()["detail"]
    assert qa.get("/api/v1/material-lots/999999/recall/").status_code == 404
    certificate = qa.get(f"/api/v1/material-lots/{lot_id}/certificate/")
    assert certificate.content == CERTIFICATE
    assert certificate["X-SHA256"] == hashlib.sha256(CERTIFICATE).hexdigest()


@pytest.mark.urs("URS-347")
def test_equipment_and_line_clearances_through_the_admin_by_scan(register: Personas) -> None:
    cabinet = Equipment.objects.get(code="BSC-02")
    operator = client_for(register.operator)
    now = timezone.localtime()
    bad = operator.post(
        reverse("admin:batches_lineclearance_add"),
        {
            "workstation": "NO-SUCH",
            "performed_at": now.strftime("%Y-%m-%dT%H:%M:%S"),
            "product_removed": "on",
            "surfaces_cleaned": "on",
            "password": PASSWORD,
        },
    )
    assert "No such barcode in the register: NO-SUCH." in bad.content.decode()
    done = operator.post(
        reverse("admin:batches_lineclearance_add"),
        {
            "workstation": cabinet.code,
            "performed_at": now.strftime("%Y-%m-%dT%H:%M:%S"),
            "product_removed": "on",
            "surfaces_cleaned": "on",
            "password": PASSWORD,
        },
    )
    assert done.status_code == 302, done.content.decode()[:2000]
    clearance = LineClearance.objects.get(workstation=cabinet)
    verify = reverse("admin:batches_lineclearance_verify", args=[clearance.pk])
    assert operator.post(verify, {"password": PASSWORD}).status_code == 403
    assert client_for(register.qa).post(verify, {"password": PASSWORD}).status_code == 302
    clearance.refresh_from_db()
    assert clearance.verified_by == register.qa

    status = reverse("admin:batches_equipment_decide", args=[cabinet.pk])
    assert client_for(register.materials).get(status).status_code == 403
    assert (
        client_for(register.qa)
        .post(status, {"status": "quarantined", "reason": "HEPA filter test failed.", "password": PASSWORD})
        .status_code
        == 302
    )
    cabinet.refresh_from_db()
    assert cabinet.status == "quarantined"
    home = client_for(register.materials).get(reverse("admin:index")).content.decode()
    assert "Materials and equipment" in home
    assert reverse("admin:batches_materiallot_add") in home

    # The list offers each reader only the actions their roles allow: a link to a refusal helps nobody.
    record = reverse("admin:batches_equipment_record", args=[cabinet.pk])
    listed = {
        user.username: client_for(user).get(reverse("admin:batches_equipment_changelist")).content.decode()
        for user in (register.materials, register.qa, register.auditor)
    }
    assert record in listed["materials"]
    assert status not in listed["materials"]
    assert status in listed["qa_reviewer"]
    assert record not in listed["qa_reviewer"]
    assert record not in listed["auditor"]
    assert status not in listed["auditor"]
    assert reverse("admin:batches_equipment_uses", args=[cabinet.pk]) in listed["auditor"]
    # A refusal reads wholly in the reader's language, the action and the roles included.
    account_language_set(actor=register.auditor, user=register.auditor, language="es")
    refusal = client_for(register.auditor).get(record)
    assert refusal.status_code == 403
    assert (
        "Registrar una calibración o un mantenimiento requiere el rol Materiales y equipos / Administrador del sistema."
        in refusal.content.decode()
    )


@pytest.mark.urs("URS-347")
def test_qa_declares_a_drafts_step_materials_in_the_admin_and_an_approved_definition_is_frozen(
    register: Personas,
) -> None:
    from batches.exceptions import StateConflict
    from batches.models import ProcessDefinition, StepMaterialRequirement
    from batches.services import master
    from batches.services.materials import material_requirement_add
    from tests.factories import definition_values

    draft = master.process_definition_create(actor=register.qa, values=definition_values(code="IGX3"))
    url = reverse("admin:batches_stepmaterialrequirement_add")
    assert client_for(register.operator).get(url).status_code == 403
    spanish = client_for(register.qa).get(url, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "<title>Declarar un material que usa un paso" in spanish
    done = client_for(register.qa).post(
        url,
        {
            "definition": draft.pk,
            "step_kind": "selection",
            "category": "CD133 selection reagent",
            "grade": "gmp",
            "quantity": "1",
            "unit": "vial",
        },
    )
    assert done.status_code == 302, done.content.decode()[:2000]
    assert StepMaterialRequirement.objects.filter(process_definition=draft, category="CD133 selection reagent").exists()

    approved = ProcessDefinition.objects.get(code="IGX1", status="approved")
    before = gmp_row_counts()
    with pytest.raises(StateConflict, match="its requirements change only in a new draft"):
        material_requirement_add(
            actor=register.qa,
            definition_id=approved.pk,
            step_kind="selection",
            category="Human serum albumin",
            grade="clinical",
            quantity="1",
            unit="vial",
        )
    assert_nothing_written(before)
