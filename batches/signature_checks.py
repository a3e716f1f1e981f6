"""Reading signatures: the canonical content a signature binds, printed names, integrity checks.

Nothing here writes. The signing services (batches.services.signatures) and every reader (the batch
page, the API, the release gate, the record) share these definitions, so "what is signed" and "is it
still intact" are each written once (21 CFR 11.70).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import models

from batches.models.batch import Batch
from batches.models.signatures import ElectronicSignature, SignatureStatus

# Fields that record signing itself (or move with the workflow) are not part of what is signed:
# a later verification or second approval must not break the earlier signature.
UNSIGNED_FIELDS = frozenset(
    {
        "verified_by",
        "verified_at",
        "status",
        "status_changed_at",
        "first_approved_by",
        "first_approved_at",
        "second_approved_by",
        "second_approved_at",
        "effective_from",
        # a controlled document's later version supersedes it; a training record's trainee signs after its trainer
        "superseded_on",
        "trainee_signed_at",
    }
)
# Fields added after records were signed: signed once they hold a value (a correction signs who made it),
# left out while empty, so that every signature made before the field existed still matches its record.
SIGNED_WHEN_SET = frozenset(
    {"corrected_by", "corrected_at", "clinical_trial", "acknowledged", "references", "disposal"}
)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date | Decimal):
        return str(value)
    return value


def _left_out(target: models.Model, field: models.Field[Any, Any]) -> bool:
    """Not signed by default: workflow fields, and a field added later that is still empty."""
    if field.name in UNSIGNED_FIELDS:
        return True
    return field.name in SIGNED_WHEN_SET and field.value_from_object(target) in (None, "")


def declared_fields(model: type[models.Model], meaning: str) -> frozenset[str] | None:
    """The columns (attnames) a signature of ``meaning`` binds on ``model``, when the model declares them.

    A record filled in by several people's acts (a hand-over then its receipt, a first bedside scan then the
    second clinician's confirmation) declares ``SIGNED_FIELDS = {meaning: (field, ...)}``: each signature binds
    what its signer attested, so a later legitimate act on the record leaves it intact, and a change to the
    fields it bound breaks it. ``None``: the model declares nothing for ``meaning`` (the default rule applies).
    """
    declared: dict[str, tuple[str, ...]] = getattr(model, "SIGNED_FIELDS", {})
    names = declared.get(str(meaning))
    if names is None:
        return None
    return frozenset(model._meta.get_field(name).attname for name in names)  # type: ignore[union-attr]


def canonical_content(target: models.Model, *, only: frozenset[str] | None = None, meaning: str = "") -> bytes:
    """Deterministic JSON of the record's signed fields, bound to its table and primary key.

    ``meaning``: at signing, the fields the model declares for it (``declared_fields``); without a
    declaration, every field but the workflow ones. ``only``: the fields a stored signature bound (its
    stored content names them, under its hash), when checking it.
    """
    if only is None and meaning:
        only = declared_fields(type(target), meaning)
    fields = {
        f.attname: _json_value(f.value_from_object(target))
        for f in target._meta.concrete_fields
        if (f.attname in only if only is not None else not _left_out(target, f))
    }
    document = {"record": target._meta.label_lower, "pk": target.pk, "fields": fields}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def printed_name(user: User) -> str:
    full = user.get_full_name().strip() if hasattr(user, "get_full_name") else ""
    return full or str(user.get_username())


class SignatureState(models.TextChoices):
    VALID = "valid", "Valid"
    INVALIDATED = "invalidated", "Invalidated: the record was corrected after signing; it must be signed again"
    INVALID = "invalid", "INVALID: the signed content does not match the record"


@dataclass(frozen=True)
class SignatureCheck:
    """A signature with the state computed now, and why (for the admin, the API and the PDF)."""

    signature: ElectronicSignature
    state: SignatureState
    detail: str

    @property
    def needs_signing_again(self) -> bool:
        return self.state != SignatureState.VALID


_NOT_LOADED = object()


def _integrity_problem(signature: ElectronicSignature, target: models.Model | None) -> str:
    """Why the signature no longer matches its record, or "" when it still does."""
    stored = signature.content.encode()
    if hashlib.sha256(stored).hexdigest() != signature.content_sha256:
        return "the stored signed content was altered after signing"
    model = signature.content_type.model_class()
    try:
        document = json.loads(stored)
        signed_record, signed_pk = document["record"], document["pk"]
    except (ValueError, KeyError, TypeError):
        return "the stored signed content is not a signed record"
    if model is None or signed_record != model._meta.label_lower or signed_pk != signature.object_id:
        return f"the signature was made for {signed_record} #{signed_pk}, not for this record"
    if target is None:
        return "the signed record no longer exists"
    signed_fields = document.get("fields")
    only = frozenset(signed_fields) if isinstance(signed_fields, dict) else None
    declared = declared_fields(model, signature.meaning)
    if only is not None and declared is not None and not only <= declared:
        # Signed before its model declared what the meaning binds (the stored content, bound by its hash,
        # holds more): the fields the meaning binds must still hold their signed values.
        current = json.loads(canonical_content(target, only=only & declared))["fields"]
        return "" if all(signed_fields[k] == v for k, v in current.items()) else "the record was changed after signing"
    if hashlib.sha256(canonical_content(target, only=only)).hexdigest() != signature.content_sha256:
        return "the record was changed after signing"
    return ""


def _load_target(signature: ElectronicSignature) -> models.Model | None:
    model = signature.content_type.model_class()
    if model is None:
        return None
    return model._default_manager.filter(pk=signature.object_id).first()


def signature_check(signature: ElectronicSignature, target: Any = _NOT_LOADED) -> SignatureCheck:
    """Recompute the hash of the signed record and say whether the signature still holds."""
    if target is _NOT_LOADED:
        target = _load_target(signature)
    if signature.status == SignatureStatus.INVALIDATED:
        return SignatureCheck(signature, SignatureState.INVALIDATED, signature.invalidated_reason)
    problem = _integrity_problem(signature, target)
    if problem:
        return SignatureCheck(signature, SignatureState.INVALID, problem)
    return SignatureCheck(signature, SignatureState.VALID, "")


def signature_is_intact(signature: ElectronicSignature) -> bool:
    """True when the signed record still has exactly the content that was signed."""
    return not _integrity_problem(signature, _load_target(signature))


def _signed_records(signatures: list[ElectronicSignature]) -> dict[tuple[int, int], models.Model]:
    """The records the signatures bind, loaded in one query per record type (not one per signature)."""
    wanted: dict[int, set[int]] = defaultdict(set)
    for signature in signatures:
        wanted[signature.content_type_id].add(signature.object_id)
    targets: dict[tuple[int, int], models.Model] = {}
    for content_type_id, ids in wanted.items():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        if model is not None:
            for pk, obj in model._default_manager.in_bulk(list(ids)).items():
                targets[(content_type_id, pk)] = obj
    return targets


def _batch_signatures(batch: Batch, signatures: Iterable[ElectronicSignature] | None) -> list[ElectronicSignature]:
    if signatures is None:
        signatures = ElectronicSignature.objects.filter(batch=batch).select_related("content_type", "signer")
    return list(signatures)


def signature_states(batch: Batch, signatures: Iterable[ElectronicSignature] | None = None) -> list[SignatureCheck]:
    """Every signature of ``batch`` in signing order, each with its state computed now.

    ``signatures`` are the batch's signatures when the caller already holds them (prefetched with
    their content types); the cost does not grow with their number.
    """
    signatures = _batch_signatures(batch, signatures)
    targets = _signed_records(signatures)
    return [signature_check(s, targets.get((s.content_type_id, s.object_id))) for s in signatures]


def signatures_intact(batch: Batch, signatures: Iterable[ElectronicSignature] | None = None) -> dict[int, bool]:
    """Signature id -> whether its record still has the signed content (also for invalidated ones)."""
    signatures = _batch_signatures(batch, signatures)
    targets = _signed_records(signatures)
    return {s.pk: not _integrity_problem(s, targets.get((s.content_type_id, s.object_id))) for s in signatures}
