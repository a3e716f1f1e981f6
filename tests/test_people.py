"""One person, one account; the access review; who performed and who recorded a transcribed entry; the
training matrix and each user's training due (21 CFR 11.10(d, g, i), 11.100(a), 211.25)."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, transaction
from django.urls import reverse
from django.utils import translation

from batches.accounts import services as accounts
from batches.accounts.language import account_language_set
from batches.competence import Upcoming
from batches.models import AccessReview, ElectronicSignature, EntrySource, PersonalIdentity, UserRoleGrant
from batches.models.signatures import SignatureMeaning
from batches.models.training import DocumentVersion
from batches.pdf.collect import take_snapshot
from batches.roles import Role
from batches.services import people as people_services
from batches.services import steps
from batches.services.people import Transcription
from batches.services.signatures import signature_sign
from tests.factories import PASSWORD, Personas, gcsf_values, make_user, scans, walk_batch, with_scans
from tests.helpers import assert_nothing_written, client_for, gmp_row_counts
from tests.spanish_text import visible_text

pytestmark = pytest.mark.django_db


def operator_group() -> Group:
    return Group.objects.get_or_create(name=Role.OPERATOR)[0]


@pytest.mark.urs("URS-304")
def test_a_shared_or_generic_account_cannot_be_given_a_signing_role(people: Personas) -> None:
    shared = make_user("lab_shared", first_name="Lab Shared", last_name="Account")
    assert PersonalIdentity.objects.filter(user=shared).exists()  # identified, yet named as generic
    with (
        pytest.raises(ValidationError, match=r"named as a shared or generic account \(account, shared\)"),
        transaction.atomic(),
    ):
        shared.groups.add(operator_group())
    assert not shared.groups.exists()
    shared.groups.add(Group.objects.get_or_create(name=Role.AUDITOR)[0])  # reading needs no personal signature

    before = gmp_row_counts()
    with pytest.raises(ValidationError) as refused:
        accounts.user_create(
            actor=people.admin,
            username="qc_team",
            password=PASSWORD,
            first_name="QC",
            last_name="Team",
            email="qc@example.org",
            employee_number="HM-9001",
            roles=[Role.QC_ANALYST],
        )
    assert "shared or generic account (team)" in " ".join(refused.value.message_dict["roles"])
    assert_nothing_written(before)
    assert not User.objects.filter(username="qc_team").exists()


@pytest.mark.urs("URS-304")
def test_an_account_without_a_personal_identity_cannot_hold_a_signing_role_or_sign(people: Personas) -> None:
    anonymous = User.objects.create_user("jdoe", password=PASSWORD, first_name="Jane", last_name="Doe")
    with pytest.raises(ValidationError, match="carries no personal identity"), transaction.atomic():
        anonymous.groups.add(operator_group())
    with pytest.raises(ValidationError) as refused:
        accounts.user_create(
            actor=people.admin,
            username="jroe",
            password=PASSWORD,
            first_name="Jo",
            last_name="Roe",
            roles=[Role.VERIFIER],
        )
    assert "carries no personal identity" in " ".join(refused.value.message_dict["roles"])

    # A role granted behind the rule's back (a direct insert) still cannot sign anything.
    UserRoleGrant.objects.create(user=anonymous, group=operator_group())
    batch = walk_batch(people, "mobilization")
    step = steps.step_record(
        kind="gcsf",
        batch_id=batch.pk,
        actor=people.operator,
        password=PASSWORD,
        values=gcsf_values(1),
        **scans(people, batch, "gcsf", gcsf_values(1)),
    )
    with pytest.raises(PermissionDenied, match="Signing as performed is refused: The account 'jdoe' carries no"):
        signature_sign(
            signer=User.objects.get(pk=anonymous.pk), password=PASSWORD, meaning=SignatureMeaning.PERFORMED, target=step
        )

    identity = people_services.identity_set(
        actor=people.admin,
        user_id=anonymous.pk,
        full_name="Jane Doe",
        employee_number="HM-3107",
        email="Jane.Doe@example.org",
        reason="checked against the HR record",
    )
    assert identity.employee_number == "HM-3107"
    with pytest.raises(ValidationError) as duplicate:
        people_services.identity_set(
            actor=people.admin,
            user_id=people.verifier.pk,
            full_name="Victor Vidal",
            employee_number="HM-3107",
            email="jane.doe@EXAMPLE.org",
            reason="correcting the HR number",
        )
    assert set(duplicate.value.message_dict) == {"employee_number", "email"}
    with pytest.raises(PermissionDenied, match="requires the role System administrator"):
        people_services.identity_set(
            actor=people.qa, user_id=anonymous.pk, full_name="J", employee_number="1", email="j@x.org", reason="x y z"
        )


@pytest.mark.urs("URS-304")
def test_the_admin_user_form_refuses_a_signing_role_for_a_generic_account_with_the_rules_words(
    people: Personas,
) -> None:
    shared = make_user("ward4", first_name="Ward", last_name="Station")
    client = client_for(people.admin)
    url = reverse("admin:auth_user_change", args=[shared.pk])
    form = {
        "username": "ward4",
        "first_name": "Ward",
        "last_name": "Station",
        "email": "",
        "is_staff": "on",
        "groups": [operator_group().pk],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    response = client.post(url, form)
    assert response.status_code == 200
    assert "named as a shared or generic account (station, ward)" in response.content.decode()
    assert not shared.groups.exists()


@pytest.mark.urs("URS-305")
def test_qa_signs_the_access_review_and_every_review_is_kept(people: Personas) -> None:
    walk_batch(people, "registered")  # a process definition naming the procedures
    make_user("lab_shared", Role.AUDITOR, first_name="Lab Shared", last_name="Account")
    make_user("newcomer", Role.OPERATOR, trained=False, first_name="Nadia", last_name="Newman")
    with pytest.raises(PermissionDenied, match="requires the role QA reviewer"):
        people_services.access_review_sign(reviewer=people.admin, findings="All accounts fine.", password=PASSWORD)
    first = people_services.access_review_sign(
        reviewer=people.qa, findings="lab_shared is a shared account: deactivate it.", password=PASSWORD
    )
    second = people_services.access_review_sign(reviewer=people.qa, findings="No change since.", password=PASSWORD)

    assert list(AccessReview.objects.order_by("pk")) == [first, second]
    rows = {row["user_id"]: row for row in first.report}
    assert rows["operator"]["roles"] == ["operator"]
    assert rows["operator"]["employee_number"].startswith("E-")
    assert "SOP-MFG-001 v1" in rows["operator"]["trained_on"]
    assert "shared or generic" in rows["lab_shared"]["identity_problem"]
    assert set(rows["qa_reviewer"]) >= {"last_login", "active", "email", "full_name", "training_attention"}
    # The operator who was never trained on the procedures of their work is flagged; nobody is flagged for
    # a procedure that none of their roles follows.
    assert "SOP-MFG-001 v1: not trained" in rows["newcomer"]["training_attention"]
    assert rows["operator"]["training_attention"] == []
    assert not [item for row in rows.values() for item in row["training_attention"] if "not needed" in item]
    signature = ElectronicSignature.objects.get(
        content_type=ContentType.objects.get_for_model(AccessReview), object_id=first.pk
    )
    assert (signature.signer, signature.meaning) == (people.qa, SignatureMeaning.REVIEWED)
    with pytest.raises(DatabaseError, match="Cannot delete rows"), transaction.atomic():
        AccessReview.objects.filter(pk=first.pk).delete()

    page = client_for(people.qa).get(reverse("admin:batches_access_review"))
    assert page.status_code == 200
    assert "lab_shared is a shared account" in page.content.decode()
    assert client_for(people.operator).get(reverse("admin:batches_access_review")).status_code == 403


@pytest.mark.urs("URS-306")
def test_a_transcribed_step_names_who_performed_it_who_recorded_it_and_the_source(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")
    source = Transcription(
        source_reference="Ward 4 G-CSF log, page 12", performer_name="Rosa Gil", performer_staff_number="N-5521"
    )
    with pytest.raises(ValidationError, match="Name the person who performed the work"):
        steps.step_record(
            kind="gcsf",
            batch_id=batch.pk,
            actor=people.operator,
            password=PASSWORD,
            values=gcsf_values(1),
            transcribed=Transcription(source_reference="Ward 4 G-CSF log", performer_name="Rosa Gil"),
            **scans(people, batch, "gcsf", gcsf_values(1)),
        )
    step = steps.step_record(
        kind="gcsf",
        batch_id=batch.pk,
        actor=people.operator,
        password=PASSWORD,
        values=gcsf_values(1),
        transcribed=source,
        **scans(people, batch, "gcsf", gcsf_values(1)),
    )
    kept = EntrySource.objects.get(object_id=step.pk)
    assert (kept.performer_name, kept.performer_staff_number, kept.recorded_by) == (
        "Rosa Gil",
        "N-5521",
        people.operator,
    )
    signature = ElectronicSignature.objects.on(step).get(signer=people.operator)
    assert signature.meaning == SignatureMeaning.RECORDED

    section = take_snapshot(batch, kind="on_request", revision=1).steps[0]
    assert section.performed_by == "Rosa Gil (staff number N-5521)"
    assert section.recorded_by.startswith("Operator")
    assert section.source == "Ward 4 G-CSF log, page 12"
    assert section.procedure.startswith("SOP-MFG-001 v1 (")


@pytest.mark.urs("URS-307")
def test_qa_sees_the_training_matrix_with_gaps_and_can_export_it(people: Personas) -> None:
    walk_batch(people, "registered")  # a process definition naming the procedures
    make_user("newcomer", Role.OPERATOR, trained=False, first_name="Nadia", last_name="Newman")
    qa = client_for(people.qa)
    page = qa.get(reverse("admin:batches_training_matrix")).content.decode()
    assert "SOP-MFG-002 v1" in page
    assert "Nadia Newman (newcomer)" in page
    assert "not trained" in page
    export = qa.get(reverse("admin:batches_training_matrix_export"))
    assert export["Content-Disposition"].startswith('attachment; filename="training-matrix-')
    table = list(csv.reader(io.StringIO(export.content.decode())))
    column = next(n for n, title in enumerate(table[0]) if title.startswith("SOP-MFG-001 v1"))
    rows = {row[0]: row for row in table[1:]}
    assert rows["newcomer"][column] == "not trained: no signed training on SOP-MFG-001 v1"
    assert rows["operator"][column].startswith("current: trained on SOP-MFG-001 v1, retraining due")
    qa_column = next(n for n, title in enumerate(table[0]) if title.startswith("SOP-QA-001 v1"))
    assert rows["newcomer"][qa_column].startswith("not needed")
    assert client_for(people.operator).get(reverse("admin:batches_training_matrix")).status_code == 403

    # A Spanish reader sees each standing in Spanish; the export and the access review keep the codes.
    account_language_set(actor=people.qa, user=people.qa, language="es")
    spanish = visible_text(client_for(people.qa).get(reverse("admin:batches_training_matrix")).content.decode())
    assert all(word in spanish for word in ("sin formación", "no necesaria", "vigente"))
    assert "not trained" not in spanish
    assert "not needed" not in spanish
    version = DocumentVersion.objects.select_related("document").get(document__number="SOP-MFG-001", version=1)
    upcoming = Upcoming(version, date(2027, 1, 5))
    with translation.override("es"):
        day = version.effective_from
        assert upcoming.label == f"SOP-MFG-001 v1: en vigor el {day}, formarse como tarde el 2027-01-05"
        assert str(upcoming) == f"SOP-MFG-001 v1: effective {day}, train by 2027-01-05"


@pytest.mark.urs("URS-307")
def test_each_users_home_page_shows_their_training_due(people: Personas) -> None:
    walk_batch(people, "registered")  # a process definition naming the procedures
    newcomer = make_user("newcomer", Role.OPERATOR, trained=False, first_name="Nadia", last_name="Newman")
    body = client_for(newcomer).get(reverse("admin:index")).content.decode()
    assert "<h2>Your training</h2>" in body
    assert "Due: SOP-MFG-001 v1 G-CSF mobilization and apheresis collection records: not trained" in body
    assert "SOP-QA-001" not in body  # release is not an operator's work
    trained = client_for(people.operator).get(reverse("admin:index")).content.decode()
    assert "Your training is current on every procedure you work to." in trained
    account_language_set(actor=newcomer, user=newcomer, language="es")
    spanish = visible_text(client_for(newcomer).get(reverse("admin:index")).content.decode())
    assert "Pendiente: SOP-MFG-001 v1 G-CSF mobilization and apheresis collection records: sin formación" in spanish


@pytest.mark.urs("URS-308")
@pytest.mark.urs("URS-306")
def test_the_signed_record_prints_for_each_step_the_sop_version_it_followed(people: Personas) -> None:
    from io import BytesIO

    from pypdf import PdfReader

    from batches.pdf.render import render

    batch = walk_batch(people, "quarantine")
    snapshot = take_snapshot(batch, kind="on_request", revision=1)
    followed = {section.kind: section.procedure for section in snapshot.steps}
    assert followed == {
        "gcsf": "SOP-MFG-001 v1 (G-CSF mobilization and apheresis collection records)",
        "apheresis": "SOP-MFG-001 v1 (G-CSF mobilization and apheresis collection records)",
        "selection": "SOP-MFG-002 v1 (CD133+ selection on the CliniMACS Plus)",
    }
    roles = {(entry.meaning, entry.role) for entry in snapshot.signatures}
    assert {("Performed", "Operator"), ("Verified", "Verifier")} <= roles  # each signer's role in plain words
    pdf, _ = render(snapshot)
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(BytesIO(pdf)).pages)
    assert text.count("Procedure followed") == len(snapshot.steps)
    assert "SOP-MFG-002 v1 (CD133+ selection on the CliniMACS Plus)" in text


@pytest.mark.urs("URS-306")
def test_the_api_records_a_transcribed_step_with_its_performer_and_source(people: Personas) -> None:
    from tests.test_api_batches import as_json

    batch = walk_batch(people, "mobilization")
    api = client_for(people.operator, "api")
    url = f"/api/v1/batches/{batch.pk}/steps/gcsf/"
    nurse = {"source_reference": "Ward 4 G-CSF log, page 3", "performer_name": "Rosa Gil"}
    scanned = scans(people, batch, "gcsf", gcsf_values(1))
    refused = api.post(url, as_json(gcsf_values(1), password=PASSWORD, transcribed=nurse, **scanned), format="json")
    assert refused.status_code == 400
    assert "staff number" in refused.content.decode()
    nurse["performer_staff_number"] = "N-5521"
    created = api.post(url, as_json(gcsf_values(1), password=PASSWORD, transcribed=nurse, **scanned), format="json")
    assert created.status_code == 201, created.content
    kept = EntrySource.objects.get(object_id=created.json()["id"])
    assert (kept.performer_name, kept.source_reference) == ("Rosa Gil", "Ward 4 G-CSF log, page 3")
    assert ElectronicSignature.objects.get(object_id=kept.object_id, signer=people.operator).meaning == "recorded"


@pytest.mark.urs("URS-306")
def test_the_batch_page_records_a_transcribed_step_signed_as_recorded(people: Personas) -> None:
    from tests.test_admin_batch import form_data, post_ok, url

    batch = walk_batch(people, "mobilization")
    transcribed = {
        "source_reference": "Ward 4 G-CSF log, page 12",
        "performer_name": "Rosa Gil",
        "performer_staff_number": "N-5521",
    }
    post_ok(
        client_for(people.operator),
        url(batch, "record", "gcsf"),
        form_data(with_scans(people, batch, "gcsf", gcsf_values(1)), password=PASSWORD, **transcribed),
    )
    kept = EntrySource.objects.get(batch=batch)
    assert (kept.source_reference, kept.performer_name, kept.performer_staff_number) == tuple(transcribed.values())
    assert kept.recorded_by == people.operator
    signature = ElectronicSignature.objects.get(object_id=kept.object_id, signer=people.operator)
    assert signature.meaning == SignatureMeaning.RECORDED
