"""Electronic signatures: sign with the password re-entered, verify by recomputing the hash."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.utils import timezone

from batches.accounts.access import signature_failure_record
from batches.audit import audit_context
from batches.duties import roles_allowed_to_sign, signing_duties_check
from batches.models.access import AccessEventKind, AccessOutcome
from batches.models.batch import Batch
from batches.models.signatures import ElectronicSignature, SignatureManifest, SignatureMeaning, SignatureStatus
from batches.roles import user_roles
from batches.services.common import confirm_password
from batches.signature_checks import canonical_content, printed_name


def signature_sign(
    *,
    signer: User,
    password: str,
    meaning: SignatureMeaning,
    target: models.Model,
    batch: Batch | None = None,
    password_checked: bool = False,
    otp_token: str | None = None,
    manifest: SignatureManifest | None = None,
) -> ElectronicSignature:
    """Sign ``target`` as ``meaning``; the caller holds the transaction.

    The identity re-check (password, and TOTP when enrolled) is done here unless the caller did it
    already in the same transaction (``password_checked``). Separation of duties is always checked
    here; a refusal is written to the access log on its own connection and survives the rollback.
    """
    if not password_checked:
        confirm_password(signer, password, otp_token=otp_token, purpose=f"sign as {meaning.label.lower()}")
    try:
        signing_duties_check(signer=signer, meaning=meaning, target=target, batch=batch)
    except PermissionDenied as refusal:
        signature_failure_record(
            user=signer,
            detail=f"sign {target._meta.label_lower} #{target.pk} as {meaning.label.lower()}: {refusal}",
            counts_towards_lockout=False,
            event=AccessEventKind.SIGNATURE_REFUSED,
            outcome=AccessOutcome.REFUSED,
        )
        raise
    # What is signed is the row as stored (types and rounding as the database keeps them), which is
    # also what every later verification reads back; a model may declare the fields each meaning binds.
    stored = type(target)._default_manager.get(pk=target.pk)
    content = canonical_content(stored, meaning=meaning)
    with audit_context(signer, reason=f"electronic signature: {meaning.label}"):
        return ElectronicSignature.objects.create(
            batch=batch,
            content_type=ContentType.objects.get_for_model(target),
            object_id=target.pk,
            signer=signer,
            printed_name=printed_name(signer),
            signer_role=", ".join(r.label for r in roles_allowed_to_sign(meaning) if r in user_roles(signer)),
            meaning=meaning,
            signed_at=timezone.now(),
            content_sha256=hashlib.sha256(content).hexdigest(),
            content=content.decode(),
            manifest=manifest,
        )


def manifest_open(*, signer: User, meaning: SignatureMeaning, batch: Batch, statement: str) -> SignatureManifest:
    """Start an act that signs several records with one password entry (checked by the caller).

    Sign each record with ``signature_sign(..., manifest=manifest)``, then ``manifest_seal``.
    """
    with audit_context(signer, reason=f"electronic signature manifest: {meaning.label}"):
        return SignatureManifest.objects.create(
            batch=batch, signer=signer, meaning=meaning, statement=statement, entries=[], signed_at=timezone.now()
        )


def manifest_seal(*, manifest: SignatureManifest, signer: User, password: str) -> SignatureManifest:
    """List every record signed in the act with the hash of its signed content, then sign the list."""
    signatures = list(manifest.signatures.select_related("content_type").order_by("pk"))
    if not signatures:
        raise ValidationError(f"Nothing to sign: {manifest.statement[:1].lower()}{manifest.statement[1:]}.")
    entries = []
    for signature in signatures:
        target = signature.target
        entries.append(
            {
                "record": signature.content_type.app_label + "." + signature.content_type.model,
                "pk": signature.object_id,
                "title": str(target),
                "sha256": signature.content_sha256,
            }
        )
    with audit_context(signer, reason=f"electronic signature manifest: {SignatureMeaning(manifest.meaning).label}"):
        manifest.entries = entries
        manifest.save(update_fields=["entries"])
    signature_sign(
        signer=signer,
        password=password,
        password_checked=True,
        meaning=SignatureMeaning(manifest.meaning),
        target=manifest,
        batch=manifest.batch,
    )
    return manifest


def signatures_sign_manifest(
    *,
    signer: User,
    password: str,
    meaning: SignatureMeaning,
    batch: Batch,
    statement: str,
    records: Sequence[models.Model],
) -> SignatureManifest:
    """Sign ``records`` in one act; the caller checked the password in the same transaction.

    Each record gets its own signature (separation of duties checked on each, as for a single one), all
    naming one manifest that lists every record with the hash of its signed content; the manifest is
    signed too, with the same meaning.
    """
    manifest = manifest_open(signer=signer, meaning=meaning, batch=batch, statement=statement)
    for record in records:
        signature_sign(
            signer=signer,
            password=password,
            password_checked=True,
            meaning=meaning,
            target=record,
            batch=batch,
            manifest=manifest,
        )
    return manifest_seal(manifest=manifest, signer=signer, password=password)


def signatures_invalidate(*, target: models.Model, actor: User, reason: str) -> int:
    """Mark every valid signature of ``target`` invalidated (its content is about to change)."""
    with audit_context(actor, reason=reason):
        return (
            ElectronicSignature.objects.on(target)
            .filter(status=SignatureStatus.VALID)
            .update(status=SignatureStatus.INVALIDATED, invalidated_at=timezone.now(), invalidated_reason=reason)
        )
