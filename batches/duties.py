"""Separation of duties at signing (21 CFR 11.10(g)): the one table of who may sign what.

Checked inside ``signature_sign`` for every signature, whatever service asks for it (in plain words:
docs/domain.md §Separation of duties):
- a role grants signature meanings (``MEANINGS_BY_ROLE``); a user signs only with a meaning one of
  their roles grants;
- the ``admin`` role never signs and never edits batch data, even together with another role;
- nobody verifies a record they performed, nor performs one they verified;
- on one batch, whoever performed or verified a step does not release, reject or certify it, and
  the Qualified Person who certifies is not the person who released.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import models

from batches.models.batch import Batch
from batches.models.signatures import ElectronicSignature, SignatureMeaning
from batches.personal import require_personal_account
from batches.roles import Role, user_roles

M = SignatureMeaning

# Everyone who does GMP work is trained, and may train others, on the procedures they follow.
_TRAINING = frozenset({M.TRAINED, M.TRAINER})

MEANINGS_BY_ROLE: dict[Role, frozenset[SignatureMeaning]] = {
    Role.OPERATOR: frozenset({M.PERFORMED, M.RECORDED}) | _TRAINING,
    Role.QC_ANALYST: frozenset({M.PERFORMED, M.RECORDED}) | _TRAINING,
    Role.VERIFIER: frozenset({M.VERIFIED}) | _TRAINING,
    Role.QA_REVIEWER: frozenset({M.REVIEWED, M.RELEASED, M.CONDITIONALLY_RELEASED, M.REJECTED, M.APPROVED}) | _TRAINING,
    Role.QUALIFIED_PERSON: frozenset({M.CERTIFIED, M.APPROVED}) | _TRAINING,
    # Bedside identity check (first scan performed, second clinician verified) and the infusion.
    # The treating physician also acknowledges a conditional release.
    Role.CLINICIAN: frozenset({M.PERFORMED, M.VERIFIED, M.RECORDED, M.ACKNOWLEDGED}) | _TRAINING,
    # The medical director authorises a conditional release.
    Role.MEDICAL_DIRECTOR: frozenset({M.AUTHORISED}) | _TRAINING,
    Role.AUDITOR: frozenset(),
    # Calibration and maintenance records of the equipment register.
    Role.MATERIALS: frozenset({M.PERFORMED}),
    Role.ADMIN: frozenset(),
}

# Holding one of these roles removes every signing right and every right to edit batch data.
NEVER_SIGNS: frozenset[Role] = frozenset({Role.ADMIN})

# On the same record, one person may not sign with both meanings of a pair.
EXCLUSIVE_ON_RECORD: dict[SignatureMeaning, frozenset[SignatureMeaning]] = {
    M.PERFORMED: frozenset({M.VERIFIED}),
    M.RECORDED: frozenset({M.VERIFIED}),
    M.VERIFIED: frozenset({M.PERFORMED, M.RECORDED}),
}

_MADE_IT = frozenset({M.PERFORMED, M.RECORDED, M.VERIFIED})
# On the same batch, someone who signed with a meaning on the right may not sign with the one on the left.
EXCLUSIVE_ON_BATCH: dict[SignatureMeaning, frozenset[SignatureMeaning]] = {
    M.RELEASED: _MADE_IT,
    M.CONDITIONALLY_RELEASED: _MADE_IT,
    M.REJECTED: _MADE_IT,
    M.CERTIFIED: _MADE_IT | {M.RELEASED, M.CONDITIONALLY_RELEASED},
}


def roles_allowed_to_sign(meaning: SignatureMeaning) -> list[Role]:
    return [role for role, meanings in MEANINGS_BY_ROLE.items() if meaning in meanings]


def allowed_meanings(user: User) -> frozenset[SignatureMeaning]:
    """The meanings ``user`` may sign with now (none for an inactive user or an administrator)."""
    roles = {Role(name) for name in user_roles(user) if name in Role.values}
    if roles & NEVER_SIGNS:
        return frozenset()
    granted: set[SignatureMeaning] = set()
    for role in roles:
        granted |= MEANINGS_BY_ROLE[role]
    return frozenset(granted)


def refuse_administrator(user: User, *, action: str) -> None:
    """The system administrator manages accounts and master data, never batch data."""
    if Role.ADMIN in user_roles(user):
        raise PermissionDenied(
            f"{action} is not allowed for a system administrator account, whatever other role it holds."
        )


def _verb(meaning: SignatureMeaning) -> str:
    return meaning.label.lower()


def signing_duties_check(*, signer: User, meaning: SignatureMeaning, target: models.Model, batch: Batch | None) -> None:
    """Raise PermissionDenied when ``signer`` may not sign ``target`` with ``meaning``."""
    refuse_administrator(signer, action=f"Signing as {_verb(meaning)}")
    require_personal_account(signer, action=f"Signing as {_verb(meaning)}")
    if meaning not in allowed_meanings(signer):
        roles = ", ".join(role.label for role in roles_allowed_to_sign(meaning)) or "no role"
        raise PermissionDenied(f"Signing as {_verb(meaning)} requires the role {roles}; your roles do not allow it.")

    own = ElectronicSignature.objects.filter(signer=signer)
    clashing = EXCLUSIVE_ON_RECORD.get(meaning, frozenset())
    if clashing:
        if meaning == M.VERIFIED and getattr(target, "performed_by_id", None) == signer.pk:
            raise PermissionDenied("You performed this record; a second person must verify it.")
        if meaning == M.PERFORMED and getattr(target, "verified_by_id", None) == signer.pk:
            raise PermissionDenied("You verified this record; you cannot also sign it as performed.")
        earlier = own.on(target).filter(meaning__in=clashing).first()
        if earlier is not None:
            raise PermissionDenied(
                f"You signed this record as {_verb(SignatureMeaning(earlier.meaning))}; "
                f"a second person must sign it as {_verb(meaning)}."
            )

    clashing = EXCLUSIVE_ON_BATCH.get(meaning, frozenset())
    if clashing and batch is not None:
        earlier = own.filter(batch=batch, meaning__in=clashing).first()
        if earlier is not None:
            raise PermissionDenied(
                f"You signed part of batch {batch.batch_number} as {_verb(SignatureMeaning(earlier.meaning))}; "
                f"someone independent must sign it as {_verb(meaning)}."
            )
