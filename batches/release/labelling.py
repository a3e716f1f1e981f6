"""Label issuance and reconciliation (FACT-JACIE): every label printed is counted until it is accounted for.

- ``label_print``: an operator prints a bag's label, N copies, naming the printer and why; each copy gets
  its own id (printed and in its own barcode); a reprint voids every earlier label of that bag, which
  must then be destroyed or returned, never applied. The PDF and ZPL of the first copy are kept.
- ``label_account``: a label (scanned by its id) is applied, destroyed or returned.
- ``label_reconcile``: the signed count issued = applied + destroyed + returned, refused while a label is
  unaccounted for. ``reconciliation_outstanding`` is the release guard's check: QA cannot release a
  batch whose labels are not reconciled, including labels printed after the last reconciliation.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext

from batches import formatting
from batches.audit import audit_context, require_reason
from batches.exceptions import StateConflict
from batches.labels import LabelData, labels_for_batch, render_labels
from batches.models import (
    Batch,
    FinalContainer,
    Label,
    LabelBag,
    LabelFormat,
    LabelPrint,
    LabelReconciliation,
    LabelStatus,
)
from batches.models.signatures import SignatureManifest, SignatureMeaning
from batches.roles import Role, require_role
from batches.services.common import confirm_password, identifier_next, lock_batch
from batches.services.signatures import manifest_open, manifest_seal, signature_sign
from batches.states import BatchStatus
from batches.zpl import labels_zpl

S = BatchStatus
PRINT_STATES = {
    LabelBag.COLLECTION: (S.COLLECTION, S.PROCESSING, S.QUARANTINE),
    LabelBag.FINAL: (S.QUARANTINE,),
}
MAX_COPIES = 20


@dataclass(frozen=True)
class PrintedLabels:
    """A print event and what goes to the printer: a PDF, or ZPL text."""

    event: LabelPrint
    content: bytes
    content_type: str
    filename: str


def _label_data(batch: Batch, bag: str) -> LabelData:
    wanted = "Apheresis" if bag == LabelBag.COLLECTION else "Final"
    for data in labels_for_batch(batch):
        if data.bag.startswith(wanted):
            return data
    raise StateConflict(
        gettext("Batch %(batch_number)s has no %(label_bag)s yet (processing not ended).")
        % {"batch_number": batch.batch_number, "label_bag": LabelBag(bag).label.lower()}
    )


def _refuse_print(batch: Batch, bag: str, copies: int) -> None:
    if bag not in LabelBag.values:
        raise ValidationError({"bag": gettext("Choose the bag: %(value)s.") % {"value": ", ".join(LabelBag.values)}})
    if not 1 <= copies <= MAX_COPIES:
        raise ValidationError(
            {
                "copies": gettext("Print 1 to %(max_copies)s labels at a time; %(copies)s asked.")
                % {"max_copies": MAX_COPIES, "copies": copies}
            }
        )
    states = PRINT_STATES[LabelBag(bag)]
    if batch.status not in states:
        raise StateConflict(
            f"The {LabelBag(bag).label.lower()} label of batch {batch.batch_number} is printed while it is "
            f"{' or '.join(s.label.lower() for s in states)}; it is {batch.get_status_display().lower()}."
        )
    if not batch.din:
        raise StateConflict(
            gettext("Batch %(batch_number)s has no DIN yet: labels are printed from collection on.")
            % {"batch_number": batch.batch_number}
        )
    on_bag = Label.objects.filter(batch=batch, bag=bag, voided=False, status=LabelStatus.APPLIED).first()
    if on_bag is not None:
        raise StateConflict(
            gettext("Label %(label_id)s is on the bag: remove it and record it destroyed before a reprint.")
            % {"label_id": on_bag.label_id}
        )


@transaction.atomic
def label_print(
    *, actor: User, batch_id: int, bag: str, copies: int, printer: str, reason: str, label_format: str = "pdf"
) -> PrintedLabels:
    """Issue ``copies`` labels of one bag; a reprint voids the earlier labels of that bag."""
    require_role(actor, Role.OPERATOR, action="Printing labels")
    if label_format not in LabelFormat.values:
        raise ValidationError({"label_format": f"Choose {' or '.join(LabelFormat.values)}."})
    if not (printer or "").strip():
        raise ValidationError({"printer": gettext("Name the printer (its name or asset code).")})
    why = require_reason(reason, what="print labels (first print, or why a reprint)")
    batch = lock_batch(batch_id)
    _refuse_print(batch, bag, copies)
    data = _label_data(batch, bag)
    earlier = Label.objects.filter(batch=batch, bag=bag, voided=False)
    reprint = earlier.exists()
    din = batch.din or ""  # _refuse_print refused a batch without one
    ids = [f"L{din}{identifier_next(kind='label', scope=din, year=0):03d}" for _ in range(copies)]
    labels = [replace(data, label_id=label_id) for label_id in ids]
    with audit_context(actor, reason=f"{'reprint' if reprint else 'print'} of {copies} label(s): {why}"):
        event = LabelPrint.objects.create(
            batch=batch,
            bag=bag,
            label_format=label_format,
            copies=copies,
            printer=printer.strip()[:80],
            reason=why,
            is_reprint=reprint,
            printed_by=actor,
            specimen_zpl=labels_zpl(labels[:1]),
            specimen_pdf=base64.b64encode(render_labels(labels[:1])).decode(),
        )
        earlier.update(voided=True, voided_by=event)
        Label.objects.bulk_create(Label(label_id=i, print_event=event, batch=batch, bag=bag) for i in ids)
    if label_format == LabelFormat.ZPL:
        return PrintedLabels(event, labels_zpl(labels).encode(), "application/zpl", f"labels-{batch.din}.zpl")
    return PrintedLabels(event, render_labels(labels), "application/pdf", f"labels-{batch.din}.pdf")


ACCOUNT_STATES = (LabelStatus.APPLIED, LabelStatus.DESTROYED, LabelStatus.RETURNED)


@transaction.atomic
def label_account(*, actor: User, label_id: str, status: str, reason: str = "") -> Label:
    """Record what became of one label: applied to its bag, destroyed or returned (scanned by its id)."""
    require_role(actor, Role.OPERATOR, action="Accounting for a label")
    if status not in ACCOUNT_STATES:
        raise ValidationError({"status": gettext("A label is %(value)s.") % {"value": ", ".join(ACCOUNT_STATES)}})
    found = Label.objects.filter(label_id=(label_id or "").strip().upper()).values_list("batch_id", flat=True).first()
    if found is None:
        raise ValidationError(
            {
                "label_id": gettext("No label %(label_id)s was ever issued: do not use it.")
                % {"label_id": f"{label_id!r}"}
            }
        )
    lock_batch(found)
    label = Label.objects.select_for_update().get(label_id=label_id.strip().upper())
    if status == LabelStatus.APPLIED and label.voided:
        raise StateConflict(
            gettext("Label %(label_id)s was voided by the reprint of %(time)s and may never be applied: destroy it.")
            % {"label_id": label.label_id, "time": formatting.moment(label.voided_by.printed_at)}  # type: ignore[union-attr]
        )
    undo = label.status == LabelStatus.APPLIED and status == LabelStatus.DESTROYED
    if label.status != LabelStatus.ISSUED and not undo:
        raise StateConflict(
            gettext("Label %(label_id)s is already %(status)s.")
            % {"label_id": label.label_id, "status": label.get_status_display().lower()}
        )
    why = require_reason(reason, what="remove an applied label") if undo else (reason or "").strip()
    with audit_context(actor, reason=why or f"label {label.label_id} {status}"):
        label.status = status
        label.accounted_by = actor
        label.accounted_at = timezone.now()
        label.save(update_fields=["status", "accounted_by", "accounted_at"])
    return label


def label_counts(batch: Batch) -> dict[str, int]:
    counts = dict(Label.objects.filter(batch=batch).values_list("status").annotate(n=Count("pk")))
    result = {status: counts.get(status, 0) for status in LabelStatus.values}
    result["total"] = sum(counts.values())
    result["voided"] = Label.objects.filter(batch=batch, voided=True).count()
    return result


@transaction.atomic
def label_reconcile(
    *,
    actor: User,
    batch_id: int,
    password: str,
    otp_token: str = "",
    password_checked: bool = False,
    manifest: SignatureManifest | None = None,
) -> LabelReconciliation:
    """Sign the count of the batch's labels; refused while one is unaccounted for."""
    require_role(actor, Role.OPERATOR, action="Reconciling labels")
    if not password_checked:
        confirm_password(actor, password, otp_token=otp_token)
    batch = lock_batch(batch_id)
    counts = label_counts(batch)
    if counts["total"] == 0:
        raise StateConflict(
            gettext("No label of batch %(batch_number)s has been printed: nothing to reconcile.")
            % {"batch_number": batch.batch_number}
        )
    loose = list(Label.objects.filter(batch=batch, status=LabelStatus.ISSUED).values_list("label_id", flat=True))
    if loose:
        raise StateConflict(
            f"Labels of batch {batch.batch_number} do not reconcile: issued {counts['total']} ≠ applied "
            f"{counts['applied']} + destroyed {counts['destroyed']} + returned {counts['returned']}; "
            f"{len(loose)} unaccounted for: {', '.join(loose)}."
        )
    last = Label.objects.filter(batch=batch).order_by("-label_id").values_list("label_id", flat=True).first()
    with audit_context(actor, reason="labels reconciled"):
        reconciliation = LabelReconciliation.objects.create(
            batch=batch,
            issued=counts["total"],
            applied=counts["applied"],
            destroyed=counts["destroyed"],
            returned=counts["returned"],
            voided=counts["voided"],
            last_label_id=last or "",
            reconciled_by=actor,
        )
    signature_sign(
        signer=actor,
        password=password,
        password_checked=True,
        meaning=SignatureMeaning.PERFORMED,
        target=reconciliation,
        batch=batch,
        manifest=manifest,
    )
    return reconciliation


def reconciliation_outstanding(batch: Batch) -> str | None:
    """Why the batch's labels stop its release (None once a signed reconciliation covers every label)."""
    issued = Label.objects.filter(batch=batch).count()
    latest = LabelReconciliation.objects.filter(batch=batch).order_by("-reconciled_at", "-pk").first()
    if issued == 0:
        return "no label has been printed for its bags"
    if latest is None:
        unaccounted = Label.objects.filter(batch=batch, status=LabelStatus.ISSUED).count()
        return f"its {issued} labels are not reconciled ({unaccounted} unaccounted for)"
    if latest.issued != issued:
        at = timezone.localtime(latest.reconciled_at)
        return f"{issued - latest.issued} label(s) were printed after the reconciliation of {at:%Y-%m-%d %H:%M %Z}"
    return None


@transaction.atomic
def final_container_record(
    *,
    actor: User,
    batch_id: int,
    container_type: str,
    container_lot: str,
    container_expiry: date,
    appearance_ok: bool,
    integrity_ok: bool,
    label_ok: bool,
    password: str,
    notes: str = "",
    otp_token: str = "",
    password_checked: bool = False,
    manifest: SignatureManifest | None = None,
) -> FinalContainer:
    """Record the final container and its visual inspection (signed); a failed inspection blocks release."""
    require_role(actor, Role.OPERATOR, action="Recording the final container")
    if not password_checked:
        confirm_password(actor, password, otp_token=otp_token)
    batch = lock_batch(batch_id)
    if batch.status != S.QUARANTINE:
        raise StateConflict(
            f"The final container is inspected in quarantine; batch {batch.batch_number} is "
            f"{batch.get_status_display().lower()}."
        )
    if FinalContainer.objects.filter(batch=batch).exists():
        raise StateConflict(
            gettext("The final container of batch %(batch_number)s is already recorded.")
            % {"batch_number": batch.batch_number}
        )
    errors = {}
    if not container_type.strip() or not container_lot.strip():
        errors["container_lot"] = "Name the container type and its lot."
    if container_expiry < timezone.localdate():
        errors["container_expiry"] = f"Container lot {container_lot} expired on {container_expiry:%Y-%m-%d}."
    failed = [
        name for name, ok in (("appearance", appearance_ok), ("integrity", integrity_ok), ("label", label_ok)) if not ok
    ]
    if failed and len((notes or "").strip()) < 5:
        errors["notes"] = f"Describe what the inspection found ({', '.join(failed)})."
    if errors:
        raise ValidationError(errors)
    verdict = "failed: " + ", ".join(failed) if failed else "passed"
    with audit_context(actor, reason=f"final container recorded; visual inspection {verdict}"):
        container = FinalContainer(
            batch=batch,
            container_type=container_type.strip(),
            container_lot=container_lot.strip(),
            container_expiry=container_expiry,
            appearance_ok=appearance_ok,
            integrity_ok=integrity_ok,
            label_ok=label_ok,
            notes=(notes or "").strip(),
            inspected_by=actor,
        )
        container.full_clean(exclude=["batch", "inspected_by"])
        container.save()
    signature_sign(
        signer=actor,
        password=password,
        password_checked=True,
        meaning=SignatureMeaning.PERFORMED,
        target=container,
        batch=batch,
        manifest=manifest,
    )
    return container


def packaging_outstanding(batch: Batch) -> str | None:
    """The release guard's check: labels reconciled, and the final container recorded and inspected."""
    labels = reconciliation_outstanding(batch)
    if labels:
        return labels
    container = FinalContainer.objects.filter(batch=batch).first()
    if container is None:
        return "the final container and its visual inspection are not recorded"
    if not container.passed:
        return f"the visual inspection of the final container failed ({container.notes})"
    return None


@transaction.atomic
def packaging_record(
    *, actor: User, batch_id: int, password: str, otp_token: str = "", final_label: str = "", **container: Any
) -> SignatureManifest:
    """Reconcile the labels and record the final container with its inspection, the two records the operator
    signs together at the end of labelling: one password entry, each record signed, one signed manifest of
    the act (``batches.services.signatures``); if either is refused nothing is written. ``final_label``: the
    label scanned off the final bag, accounted for as applied first (it must be this batch's final label)."""
    require_role(actor, Role.OPERATOR, action="Reconciling labels and recording the final container")
    confirm_password(actor, password, otp_token=otp_token)
    batch = lock_batch(batch_id)
    code = final_label.strip().upper()
    if code:
        if not Label.objects.filter(batch=batch, bag=LabelBag.FINAL, label_id=code).exists():
            raise ValidationError(
                {"final_label": f"Label {code} is not a final bag label of batch {batch.batch_number}: check the bag."}
            )
        label_account(actor=actor, label_id=code, status=LabelStatus.APPLIED)
    manifest = manifest_open(
        signer=actor,
        meaning=SignatureMeaning.PERFORMED,
        batch=batch,
        statement=f"Reconciled the labels and inspected the final container of batch {batch.batch_number}",
    )
    label_reconcile(actor=actor, batch_id=batch_id, password=password, password_checked=True, manifest=manifest)
    final_container_record(
        actor=actor, batch_id=batch_id, password=password, password_checked=True, manifest=manifest, **container
    )
    return manifest_seal(manifest=manifest, signer=actor, password=password)
