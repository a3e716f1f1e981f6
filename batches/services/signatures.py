"""Electronic signatures: sign with the password re-entered, verify by recomputing the hash."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from batches.audit import audit_context
from batches.models.batch import Batch
from batches.models.signatures import ElectronicSignature, SignatureMeaning, SignatureStatus
from batches.services.common import confirm_password

# Fields that record signing itself (or move with the workflow) are not part of what is signed.
UNSIGNED_FIELDS = frozenset({"verified_by", "verified_at", "status", "status_changed_at"})


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date | Decimal):
        return str(value)
    return value


def canonical_content(target: models.Model) -> bytes:
    """Deterministic JSON of the record's signed fields, bound to its table and primary key."""
    fields = {
        f.attname: _json_value(f.value_from_object(target))
        for f in target._meta.concrete_fields
        if f.name not in UNSIGNED_FIELDS
    }
    document = {"record": target._meta.label_lower, "pk": target.pk, "fields": fields}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def printed_name(user: User) -> str:
    full = user.get_full_name().strip() if hasattr(user, "get_full_name") else ""
    return full or str(user.get_username())


def signature_sign(
    *,
    signer: User,
    password: str,
    meaning: SignatureMeaning,
    target: models.Model,
    batch: Batch | None = None,
    password_checked: bool = False,
) -> ElectronicSignature:
    """Sign ``target`` as ``meaning``; the caller holds the transaction and has checked the role."""
    if not password_checked:
        confirm_password(signer, password)
    content = canonical_content(target)
    with audit_context(signer, reason=f"electronic signature: {meaning.label}"):
        return ElectronicSignature.objects.create(
            batch=batch,
            content_type=ContentType.objects.get_for_model(target),
            object_id=target.pk,
            signer=signer,
            printed_name=printed_name(signer),
            meaning=meaning,
            signed_at=timezone.now(),
            content_sha256=hashlib.sha256(content).hexdigest(),
            content=content.decode(),
        )


def signature_is_intact(signature: ElectronicSignature) -> bool:
    """True when the signed record still has exactly the content that was signed."""
    model = signature.content_type.model_class()
    if model is None:
        return False
    target = model._default_manager.filter(pk=signature.object_id).first()
    if target is None:
        return False
    return hashlib.sha256(canonical_content(target)).hexdigest() == signature.content_sha256


def signatures_invalidate(*, target: models.Model, actor: User, reason: str) -> int:
    """Mark every valid signature of ``target`` invalidated (its content is about to change)."""
    with audit_context(actor, reason=reason):
        return ElectronicSignature.objects.filter(
            content_type=ContentType.objects.get_for_model(target), object_id=target.pk, status=SignatureStatus.VALID
        ).update(status=SignatureStatus.INVALIDATED, invalidated_at=timezone.now(), invalidated_reason=reason)
