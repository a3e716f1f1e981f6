"""The labelling forms: print a bag's labels, account for each label, reconcile, and record the final container
with its visual inspection (collection to quarantine; ``batches.release.labelling``). The delivery desk and
the batch page offer the same forms, each submitted through ``batches.views.desk_form.submit_form``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.utils.translation import gettext

from batches.admin import desk_forms as f
from batches.models import Batch, FinalContainer, LabelBag, LabelPrint, LabelReconciliation
from batches.release import labelling
from batches.roles import Role
from batches.states import BatchStatus
from batches.views.desk_form import DeskForm, on_batch

print_labels = on_batch(labelling.label_print)
reconcile_labels = on_batch(labelling.label_reconcile)
record_final_container = on_batch(labelling.final_container_record)
record_packaging = on_batch(labelling.packaging_record)


def account_label(user: User, batch: Batch, data: dict[str, Any]) -> Any:
    return labelling.label_account(actor=user, **data)


def label_context(batch: Batch) -> dict[str, Any]:
    """The batch's labels, their count and its reconciliations, as the desk and the batch page show them."""
    return {
        "labels": batch.labels.select_related("print_event__printed_by").order_by("label_id"),
        "label_counts": labelling.label_counts(batch),
        "reconciliations": batch.label_reconciliations.select_related("reconciled_by"),
    }


def _print_initial(batch: Batch) -> dict[str, Any]:
    """The bag labelled in this state, and the printer of the last print (checked, not retyped)."""
    last = LabelPrint.objects.order_by("-printed_at").values_list("printer", flat=True).first()
    bag = LabelBag.FINAL if batch.status == BatchStatus.QUARANTINE else LabelBag.COLLECTION
    return {"bag": bag, "printer": last or ""}


def label_forms(batch: Batch) -> list[DeskForm]:
    """The labelling forms while the batch's bags can be labelled (collection to quarantine)."""
    if batch.status not in labelling.PRINT_STATES[LabelBag.COLLECTION] or not batch.din:
        return []
    forms_ = [
        DeskForm(
            "label_print",
            gettext("Print labels"),
            f.LabelPrintForm,
            (Role.OPERATOR,),
            print_labels,
            intro=gettext("Each label gets its own id; a reprint voids the bag's earlier labels."),
            initial=_print_initial(batch),
        ),
        DeskForm("label_account", gettext("Account for a label"), f.LabelAccountForm, (Role.OPERATOR,), account_label),
    ]
    if batch.status != BatchStatus.QUARANTINE:
        return forms_
    recorded = FinalContainer.objects.filter(batch=batch).exists()
    if not recorded and not LabelReconciliation.objects.filter(batch=batch).exists():
        # The operator reconciles and inspects at one bench, one after the other: one form, one password entry.
        forms_.append(
            DeskForm(
                "packaging",
                gettext("Reconcile the labels and inspect the final container (before release)"),
                f.PackagingForm,
                (Role.OPERATOR,),
                record_packaging,
                intro=gettext(
                    "Issued = applied + destroyed + returned, then the final container and its visual "
                    "inspection: two records, each signed with this one entry; QA cannot release before both."
                ),
            )
        )
        return forms_
    forms_.append(
        DeskForm(
            "label_reconcile",
            gettext("Reconcile the labels (before release)"),
            f.LabelReconcileForm,
            (Role.OPERATOR,),
            reconcile_labels,
            intro=gettext("Issued = applied + destroyed + returned; QA cannot release until this is signed."),
        )
    )
    if not recorded:
        forms_.append(
            DeskForm(
                "final_container",
                gettext("Final container and visual inspection (before release)"),
                f.FinalContainerForm,
                (Role.OPERATOR,),
                record_final_container,
            )
        )
    return forms_
