"""The admin role never enters or changes batch data, signed or not; master data and accounts stay its own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from batches.accounts.services import user_create
from batches.models import Batch, ProcessDefinition
from batches.models.custody import HandOff
from batches.roles import BARRED_FROM, Domain, Role, may_act, require_role
from batches.services import batch as batch_services
from batches.services import custody, followup, master, steps
from qc.models import Specification
from qc.services import deviations, specifications, testing
from tests.factories import (
    PASSWORD,
    Personas,
    definition_values,
    enrolled_patient,
    make_user,
    selection_values,
    walk_batch,
)
from tests.helpers import assert_nothing_written, client_for, gmp_row_counts

pytestmark = pytest.mark.urs("URS-058")
BAR = "not allowed for a system administrator account, whatever other role it holds"
ALL_BATCH_ROLES = (Role.OPERATOR, Role.VERIFIER, Role.QC_ANALYST, Role.QA_REVIEWER, Role.CLINICIAN)


def sysadmin() -> User:
    """An administrator account that also holds every role that enters batch data."""
    return make_user("sysadmin", Role.ADMIN, *ALL_BATCH_ROLES)


def test_the_bar_is_one_table_closing_batch_data_and_nothing_else_to_the_admin_role() -> None:
    assert BARRED_FROM[Domain.BATCH_DATA] == frozenset({Role.ADMIN})
    assert set(BARRED_FROM) == set(Domain)
    assert all(Role.ADMIN not in BARRED_FROM[domain] for domain in Domain if domain != Domain.BATCH_DATA)


@pytest.mark.django_db
def test_every_unsigned_batch_data_action_is_refused_for_an_administrator_account(people: Personas) -> None:
    batch = walk_batch(people, "processing")  # labelled with its DIN at collection
    waiting = enrolled_patient(people.operator, subject_code="IGX1-S002")
    admin = sysadmin()
    now = timezone.now() - timedelta(minutes=5)
    actions: dict[str, Callable[[], Any]] = {
        "enrol a patient": lambda: master.patient_enrol(
            actor=admin,
            subject_code="IGX1-S003",
            consent_date=timezone.localdate(),
            body_weight_kg=Decimal("60"),
            eligibility_confirmed=True,
        ),
        "register": lambda: batch_services.batch_register(
            actor=admin, patient_id=waiting.pk, process_definition_id=batch.process_definition_id
        ),
        "change state": lambda: batch_services.batch_quarantine(actor=admin, batch_id=batch.pk),
        "cancel": lambda: batch_services.batch_cancel(actor=admin, batch_id=batch.pk, reason="administrator clean-up"),
        "hand over": lambda: custody.custody_hand_over(
            actor=admin,
            batch_id=batch.pk,
            kind=HandOff.LAB_TO_QC,
            from_location="Cell processing laboratory",
            to_location="QC laboratory",
            handed_over_at=now,
            temperature_c=Decimal("20.0"),
            sample_reference="QC-1",
        ),
        "take a QC sample": lambda: testing.qc_sample_record(
            actor=admin, batch_id=batch.pk, step="final_product", sample_code="ADM-1", taken_at=now
        ),
        "raise a deviation": lambda: deviations.deviation_open(
            actor=admin, batch_id=batch.pk, kind="unplanned", classification="minor", description="Found by the admin."
        ),
        "record a step": lambda: steps.step_record(
            kind="selection", batch_id=batch.pk, actor=admin, password=PASSWORD, values=selection_values()
        ),
        "record a follow-up": lambda: followup.follow_up_visit_record(
            actor=admin, batch_id=batch.pk, visit_date=timezone.localdate(), menses="normal"
        ),
    }
    before = gmp_row_counts()

    for name, action in actions.items():
        with pytest.raises(PermissionDenied, match=BAR):
            action()
        assert_nothing_written(before, name)


@pytest.mark.django_db
def test_master_data_and_accounts_stay_open_to_an_administrator_account(people: Personas) -> None:
    admin = sysadmin()

    definition = master.process_definition_create(actor=admin, values=definition_values(code="IGX2"))
    specification = specifications.specification_create(
        actor=admin, product="IGX2", title="IGX2 release specification", requested_effective_from=timezone.now()
    )
    account = user_create(
        actor=people.admin, username="newtech", password=PASSWORD, first_name="New", last_name="Technician"
    )
    same_by_sysadmin = user_create(
        actor=admin, username="newqa", password=PASSWORD, first_name="New", last_name="Reviewer"
    )

    assert ProcessDefinition.objects.get(pk=definition.pk).created_by == admin
    assert Specification.objects.get(pk=specification.pk).created_by == admin
    assert {account.username, same_by_sysadmin.username} <= set(User.objects.values_list("username", flat=True))


@pytest.mark.django_db
def test_the_check_names_the_missing_role_first_and_the_bar_only_to_someone_who_holds_the_role(
    people: Personas,
) -> None:
    with pytest.raises(PermissionDenied, match="requires the role Operator"):
        require_role(people.admin, Role.OPERATOR, action="Registering a batch")
    with pytest.raises(PermissionDenied, match=BAR):
        require_role(sysadmin(), Role.OPERATOR, action="Registering a batch")
    require_role(people.admin, Role.QA_REVIEWER, Role.ADMIN, action="Drafting", domain=Domain.MASTER_DATA)
    assert may_act(people.operator, Role.OPERATOR)
    assert not may_act(sysadmin(), Role.OPERATOR)
    assert may_act(sysadmin(), Role.QA_REVIEWER, domain=Domain.MASTER_DATA)


@pytest.mark.django_db
def test_admin_and_api_offer_an_administrator_no_batch_entry_and_refuse_it_unchanged(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")
    admin = sysadmin()
    browser = client_for(admin)
    api = client_for(admin, "api")
    before = gmp_row_counts()

    body = browser.get(reverse("admin:batches_batch_change", args=[batch.pk])).content.decode()
    assert batch.batch_number in body
    assert "Record and sign" not in body
    assert "Cancel batch" not in body
    assert browser.get(reverse("admin:batches_batch_add")).status_code == 403
    assert browser.get(reverse("admin:batches_processdefinition_add")).status_code == 200
    refused = browser.post(reverse("admin:batches_batch_transition", args=[batch.pk, "cancel"]), {"reason": "tidy up"})
    assert refused.status_code == 200
    assert BAR in refused.content.decode()
    cancelled = api.post(f"/api/v1/batches/{batch.pk}/cancel/", {"reason": "tidy up"}, format="json")
    assert cancelled.status_code == 403
    assert BAR in cancelled.json()["detail"]

    assert_nothing_written(before)
    assert Batch.objects.get(pk=batch.pk).status == "mobilization"
