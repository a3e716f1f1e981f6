"""Electronic signatures: identity re-check, refusals on record, invalidation, copying, separation of duties."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal

import pytest
from axes.models import AccessAttempt
from django.apps import apps
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from batches.audit import audit_context
from batches.duties import MEANINGS_BY_ROLE, allowed_meanings
from batches.models import AccessEvent, Batch, Cd133Selection, ElectronicSignature, GcsfAdministration
from batches.models.signatures import SignatureMeaning
from batches.roles import Role
from batches.services import steps
from batches.services.common import confirm_password
from batches.services.signatures import signature_sign
from batches.signature_checks import SignatureState, signature_check, signature_is_intact, signature_states
from tests.factories import PASSWORD, Personas, gcsf_values, make_user, scans, selection_values, walk_batch

M = SignatureMeaning


def database_state() -> dict[str, int]:
    """Row counts of every batch-record table; the access log, which a refusal must write, is left out."""
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_app_config("batches").get_models()
        if not model._meta.proxy and model._meta.model_name not in {"accessevent", "accesseventevent"}
    }


def refusals(username: str, event: str = "signature_failed") -> list[str]:
    return list(
        AccessEvent.objects.filter(username=username, event=event).order_by("pk").values_list("detail", flat=True)
    )


def recorded_selection(people: Personas) -> tuple[Batch, Cd133Selection]:
    batch = walk_batch(people, "processing")
    step = steps.step_record(
        kind="selection",
        batch_id=batch.pk,
        actor=people.operator,
        password=PASSWORD,
        values=selection_values(),
        **scans(people, batch, "selection", selection_values()),
    )
    return batch, step  # type: ignore[return-value]


def enrol_authenticator(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def current_code(device: TOTPDevice) -> str:
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def give_role(user: User, role: Role) -> User:
    user.groups.add(Group.objects.get_or_create(name=str(role))[0])
    return User.objects.get(pk=user.pk)  # a fresh instance: roles are cached per instance


# --- Identity re-check (21 CFR 11.200) and refusals on record (11.300) -------------------------


@pytest.mark.urs("URS-040")
@pytest.mark.django_db(transaction=True)
def test_wrong_password_signs_nothing_and_the_refusal_outlives_the_rollback(people: Personas) -> None:
    batch = walk_batch(people, "processing")
    before = database_state()

    with pytest.raises(PermissionDenied, match="password is not correct; nothing was signed or saved"):
        steps.step_record(
            kind="selection",
            batch_id=batch.pk,
            actor=people.operator,
            password="guess",
            values=selection_values(),
        )

    assert database_state() == before
    assert refusals("operator") == ["wrong password"]
    event = AccessEvent.objects.get(event="signature_failed")
    assert (event.outcome, event.user_id) == ("failure", people.operator.pk)


@pytest.mark.urs("URS-040")
@pytest.mark.django_db(transaction=True)
def test_refusal_is_committed_even_when_the_callers_transaction_rolls_back(people: Personas) -> None:
    with transaction.atomic():
        with pytest.raises(PermissionDenied):
            confirm_password(people.qa, "not-my-password", purpose="release batch")
        transaction.set_rollback(True)

    assert not connection.in_atomic_block
    assert refusals("qa_reviewer") == ["release batch: wrong password"]


@pytest.mark.urs("URS-041")
@pytest.mark.django_db
def test_enrolled_authenticator_code_is_required_at_signing(people: Personas) -> None:
    batch, step = recorded_selection(people)
    device = enrol_authenticator(people.verifier)
    before = database_state()

    with pytest.raises(PermissionDenied, match="6-digit code"):
        steps.step_verify(kind="selection", step_id=step.pk, verifier=people.verifier, password=PASSWORD)
    wrong = f"{(int(current_code(device)) + 1) % 1_000_000:06d}"
    with pytest.raises(PermissionDenied, match="one-time code is not correct"), transaction.atomic():
        signature_sign(signer=people.verifier, password=PASSWORD, otp_token=wrong, meaning=M.VERIFIED, target=step)
    with pytest.raises(PermissionDenied, match="password is not correct"), transaction.atomic():
        signature_sign(
            signer=people.verifier, password="x", otp_token=current_code(device), meaning=M.VERIFIED, target=step
        )

    assert database_state() == before
    assert refusals("verifier") == [
        "one-time code missing",
        "sign as verified: wrong one-time code",
        "sign as verified: wrong password",
    ]

    signature = signature_sign(
        signer=people.verifier,
        password=PASSWORD,
        otp_token=current_code(device),
        meaning=M.VERIFIED,
        target=step,
        batch=batch,
    )
    assert signature.meaning == "verified"
    assert signature_check(signature).state == SignatureState.VALID


@pytest.mark.urs("URS-042")
@pytest.mark.django_db
def test_five_failed_signatures_lock_the_account_for_signing_and_login(people: Personas, client: Client) -> None:
    _, step = recorded_selection(people)
    before = database_state()

    for attempt in range(1, 6):
        with pytest.raises(PermissionDenied) as refused:
            steps.step_verify(kind="selection", step_id=step.pk, verifier=people.verifier, password=f"guess-{attempt}")
        assert ("now locked" in str(refused.value)) == (attempt == 5)
    with pytest.raises(PermissionDenied, match="account is locked"):
        steps.step_verify(kind="selection", step_id=step.pk, verifier=people.verifier, password=PASSWORD)
    response = client.post("/admin/login/", {"username": "verifier", "password": PASSWORD})

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert database_state() == before
    assert refusals("verifier") == ["wrong password"] * 5 + ["account locked out"]
    assert AccessEvent.objects.filter(username="verifier", event="locked_out").exists()
    assert AccessEvent.objects.filter(username="verifier", event="login_failed", outcome="refused").exists()
    assert sum(AccessAttempt.objects.filter(username="verifier").values_list("failures_since_start", flat=True)) >= 5


# --- Content changes after signing (11.70, Annex 11 §14) ----------------------------------------


@pytest.mark.urs("URS-043")
@pytest.mark.django_db
def test_correction_through_the_service_invalidates_the_signature_visibly(people: Personas) -> None:
    batch, step = recorded_selection(people)

    steps.step_correct(
        kind="selection",
        step_id=step.pk,
        actor=people.operator,
        password=PASSWORD,
        values={"final_volume_ml": Decimal("12.0")},
        reason="volume transcribed wrongly",
    )

    checks = [c for c in signature_states(batch) if c.signature.target == step]
    states = [(c.signature.meaning, c.state, c.detail) for c in checks]
    assert states == [
        ("performed", SignatureState.INVALIDATED, "content changed: volume transcribed wrongly"),
        ("performed", SignatureState.VALID, ""),
    ]
    assert [c.needs_signing_again for c in checks] == [True, False]


@pytest.mark.urs("URS-043", "URS-044")
@pytest.mark.django_db
def test_signatures_of_an_untouched_batch_all_verify(people: Personas) -> None:
    batch = walk_batch(people, "quarantine")

    checks = signature_states(batch)

    # performed + verified for 4 G-CSF days, apheresis, selection; in quarantine the bags are labelled:
    # the label reconciliation and the final container's inspection are signed (performed) too.
    assert len(checks) == 2 * (4 + 1 + 1) + 2
    signed = Counter((c.signature.content_type.model, c.signature.meaning) for c in checks)
    assert signed[("labelreconciliation", "performed")] == signed[("finalcontainer", "performed")] == 1
    assert {c.state for c in checks} == {SignatureState.VALID}


@pytest.mark.urs("URS-044")
@pytest.mark.django_db
def test_change_behind_the_services_back_shows_the_signature_invalid(people: Personas) -> None:
    batch, step = recorded_selection(people)

    # Raw SQL with a reason (the database insists on one) but outside every service.
    with audit_context("system:db-shell", reason="manual fix"), connection.cursor() as cursor:
        cursor.execute("UPDATE batches_cd133selection SET final_volume_ml = 99 WHERE id = %s", [step.pk])

    [check] = [c for c in signature_states(batch) if c.signature.target == step]
    assert (check.state, check.detail) == (SignatureState.INVALID, "the record was changed after signing")
    assert check.needs_signing_again
    assert not signature_is_intact(check.signature)


@pytest.mark.urs("URS-045")
@pytest.mark.django_db
def test_signature_copied_onto_other_content_fails_verification(people: Personas) -> None:
    batch = walk_batch(people, "collection")
    day1, day2 = GcsfAdministration.objects.filter(batch=batch).order_by("day")[:2]
    original = ElectronicSignature.objects.get(
        object_id=day1.pk, meaning="performed", content_type__model="gcsfadministration"
    )
    copied = {
        f.attname: getattr(original, f.attname) for f in ElectronicSignature._meta.concrete_fields if not f.primary_key
    }

    moved = ElectronicSignature.objects.create(**{**copied, "object_id": day2.pk})
    relabelled = ElectronicSignature.objects.create(
        **{**copied, "object_id": day2.pk, "content": original.content.replace(f'"pk":{day1.pk}', f'"pk":{day2.pk}')}
    )

    assert signature_check(original).state == SignatureState.VALID
    assert signature_check(moved).state == SignatureState.INVALID
    assert (
        signature_check(moved).detail
        == f"the signature was made for batches.gcsfadministration #{day1.pk}, not for this record"
    )
    assert signature_check(relabelled).detail == "the stored signed content was altered after signing"
    assert not signature_is_intact(moved)
    assert not signature_is_intact(relabelled)


# --- Separation of duties at signing (11.10(g)) -----------------------------------------------


TRAINED_ROLES = {
    "operator",
    "qc_analyst",
    "verifier",
    "qa_reviewer",
    "qualified_person",
    "clinician",
    "medical_director",
}


@pytest.mark.urs("URS-048")
def test_role_table_grants_each_meaning_to_the_roles_of_the_design() -> None:
    holders = {m: {r.value for r, meanings in MEANINGS_BY_ROLE.items() if m in meanings} for m in SignatureMeaning}
    assert holders == {
        M.PERFORMED: {"operator", "qc_analyst", "clinician", "materials"},
        M.VERIFIED: {"verifier", "clinician"},
        M.REVIEWED: {"qa_reviewer"},
        M.RELEASED: {"qa_reviewer"},
        M.CONDITIONALLY_RELEASED: {"qa_reviewer"},
        M.REJECTED: {"qa_reviewer"},
        M.CERTIFIED: {"qualified_person"},
        M.APPROVED: {"qa_reviewer", "qualified_person"},
        M.RECORDED: {"operator", "qc_analyst", "clinician"},
        M.TRAINED: {
            "operator",
            "qc_analyst",
            "verifier",
            "qa_reviewer",
            "qualified_person",
            "clinician",
            "medical_director",
        },
        M.TRAINER: {
            "operator",
            "qc_analyst",
            "verifier",
            "qa_reviewer",
            "qualified_person",
            "clinician",
            "medical_director",
        },
        M.AUTHORISED: {"medical_director"},
        M.ACKNOWLEDGED: {"clinician"},
    }


@pytest.mark.urs("URS-046")
@pytest.mark.django_db
def test_performer_cannot_verify_their_own_record(people: Personas) -> None:
    batch, step = recorded_selection(people)
    operator = give_role(people.operator, Role.VERIFIER)
    before = database_state()

    with pytest.raises(PermissionDenied, match="You performed this record; a second person must verify it"):
        signature_sign(signer=operator, password=PASSWORD, meaning=M.VERIFIED, target=step, batch=batch)

    assert database_state() == before
    assert refusals("operator", "signature_refused")[-1].endswith("a second person must verify it.")


@pytest.mark.urs("URS-046")
@pytest.mark.django_db
def test_verifier_cannot_also_sign_the_record_as_performed(people: Personas) -> None:
    batch, step = recorded_selection(people)
    steps.step_verify(kind="selection", step_id=step.pk, verifier=people.verifier, password=PASSWORD)
    verifier = give_role(people.verifier, Role.OPERATOR)
    step.refresh_from_db()
    before = database_state()

    with pytest.raises(PermissionDenied, match="You verified this record"):
        signature_sign(signer=verifier, password=PASSWORD, meaning=M.PERFORMED, target=step, batch=batch)

    assert database_state() == before


@pytest.mark.urs("URS-047")
@pytest.mark.django_db
def test_admin_role_never_signs_even_with_another_role(people: Personas) -> None:
    batch = walk_batch(people, "mobilization")
    admin = make_user("sysadmin", Role.ADMIN, Role.OPERATOR, Role.QA_REVIEWER)
    before = database_state()

    with pytest.raises(PermissionDenied, match="not allowed for a system administrator account"):
        steps.step_record(
            kind="gcsf",
            batch_id=batch.pk,
            actor=admin,
            password=PASSWORD,
            values=gcsf_values(1),
        )
    with pytest.raises(PermissionDenied, match="system administrator"):
        signature_sign(signer=admin, password=PASSWORD, meaning=M.RELEASED, target=batch, batch=batch)

    assert database_state() == before
    assert allowed_meanings(admin) == frozenset()


@pytest.mark.urs("URS-048")
@pytest.mark.parametrize(
    ("persona", "meaning"),
    [
        ("qa", M.PERFORMED),
        ("operator", M.RELEASED),
        ("operator", M.VERIFIED),
        ("verifier", M.CERTIFIED),
        ("qp", M.RELEASED),
        ("auditor", M.REVIEWED),
        ("clinician", M.APPROVED),
    ],
)
@pytest.mark.django_db
def test_meaning_outside_the_signers_roles_is_refused(
    people: Personas, persona: str, meaning: SignatureMeaning
) -> None:
    batch = walk_batch(people, "registered")
    signer = getattr(people, persona)
    before = database_state()

    with pytest.raises(PermissionDenied, match=re.escape(f"Signing as {meaning.label.lower()} requires the role")):
        signature_sign(signer=signer, password=PASSWORD, meaning=meaning, target=batch, batch=batch)

    assert database_state() == before


@pytest.mark.urs("URS-049")
@pytest.mark.django_db
def test_who_made_the_batch_does_not_release_it_and_the_releaser_does_not_certify_it(people: Personas) -> None:
    batch = walk_batch(people, "quarantine")
    operator_qa = give_role(people.operator, Role.QA_REVIEWER)
    qa_qp = give_role(people.qa, Role.QUALIFIED_PERSON)
    signature_sign(signer=people.qa, password=PASSWORD, meaning=M.RELEASED, target=batch, batch=batch)
    before = database_state()

    with pytest.raises(PermissionDenied, match=r"You signed part of batch .* as performed; someone independent"):
        signature_sign(signer=operator_qa, password=PASSWORD, meaning=M.RELEASED, target=batch, batch=batch)
    with pytest.raises(
        PermissionDenied, match=r"as release decided \(qa\); someone independent must sign it as certified"
    ):
        signature_sign(signer=qa_qp, password=PASSWORD, meaning=M.CERTIFIED, target=batch, batch=batch)

    assert database_state() == before
    signature_sign(signer=people.qp, password=PASSWORD, meaning=M.CERTIFIED, target=batch, batch=batch)
