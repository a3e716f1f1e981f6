"""The delivery desk's labelling forms: print a bag's labels, account for each label, reconcile, and record
the final container with its visual inspection (collection to quarantine; ``batches.release.labelling``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.utils.translation import gettext

from batches.admin import desk_forms as f
from batches.models import Batch, FinalContainer, LabelBag, LabelReconciliation
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


def label_forms(batch: Batch) -> list[DeskForm]:
    """The labelling forms while the batch's bags can be labelled (collection to quarantine)."""
    if batch.status not in labelling.PRINT_STATES[LabelBag.COLLECTION] or not batch.din:
        return []
    forms_ = [
        DeskForm(
            "label_print",
            "Print labels",
            f.LabelPrintForm,
            (Role.OPERATOR,),
            print_labels,
            intro=gettext("Each label gets its own id; a reprint voids the bag's earlier labels."),
        ),
        DeskForm("label_account", "Account for a label", f.LabelAccountForm, (Role.OPERATOR,), account_label),
    ]
    if batch.status != BatchStatus.QUARANTINE:
        return forms_
    recorded = FinalContainer.objects.filter(batch=batch).exists()
    if not recorded and not LabelReconciliation.objects.filter(batch=batch).exists():
        # The operator reconciles and inspects at one bench, one after the other: one form, one password entry.
        forms_.append(
            DeskForm(
                "packaging",
                "Reconcile the labels and inspect the final container (before release)",
                f.PackagingForm,
                (Role.OPERATOR,),
                record_packaging,
                intro="Issued = applied + destroyed + returned, then the final container and its visual "
                "inspection: two records, each signed with this one entry; QA cannot release before both.",
            )
        )
        return forms_
    forms_.append(
        DeskForm(
            "label_reconcile",
            "Reconcile the labels (before release)",
            f.LabelReconcileForm,
            (Role.OPERATOR,),
            reconcile_labels,
            intro="Issued = applied + destroyed + returned; QA cannot release until this is signed.",
        )
    )
    if not recorded:
        forms_.append(
            DeskForm(
                "final_container",
                "Final container and visual inspection (before release)",
                f.FinalContainerForm,
                (Role.OPERATOR,),
                record_final_container,
            )
        )
    return forms_
