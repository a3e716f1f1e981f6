"""The batch page's record form: the current step's form, G-CSF days several at once, and the first step of a
stage that is ready to start (recording it starts the stage in the same act)."""

from __future__ import annotations

from typing import Any

from django.forms import BaseForm
from django.utils.translation import gettext as _

from batches.admin.forms import GcsfDaysForm, step_form_class
from batches.admin.progress import NextStep
from batches.admin.workflow import in_sentence, record_initial, recordable_step
from batches.models import Batch
from batches.services.actions import action
from batches.services.steps import STEP_LABELS

# "What is needed next" says a stage may start: the form of the stage's first step starts it when recorded.
# Not collection: its bag carries a label issued from the DIN that starting collection allocates, so the
# operator starts collection (its own button), prints the label on the batch page, then records the apheresis.
STARTED_BY_RECORDING = {
    "Start processing": ("selection", "start-processing"),
}


def gcsf_days_form(batch: Batch, user: Any, data: Any = None) -> GcsfDaysForm:
    recorded = set(batch.gcsf_administrations.values_list("day", flat=True))
    days = [d for d in range(1, batch.process_definition.gcsf_days_max + 1) if d not in recorded]
    initial = {"prescribed_ug_per_kg": batch.process_definition.gcsf_dose_ug_per_kg}
    return GcsfDaysForm(data, initial=initial, days=days, auto_id="id_record_%s", signer=user)


def record_form(batch: Batch, kind: str, user: Any) -> BaseForm:
    """The current step's form: G-CSF days several at once, any other step on its own."""
    if kind == "gcsf":
        return gcsf_days_form(batch, user)
    return step_form_class(kind)(initial=record_initial(batch, kind), auto_id="id_record_%s", signer=user, batch=batch)


def current_record_form(batch: Batch, user: Any, needed: list[NextStep]) -> tuple[BaseForm | None, str, bool]:
    """(form, title, whether recording starts the stage) for the step the operator records now."""
    labels = {step.label for step in needed}  # in the reader's language
    starts = [start for label, start in STARTED_BY_RECORDING.items() if _(label) in labels]
    if starts:
        kind, slug = starts[0]
        title = _("%(start)s and record %(step)s") % {
            "start": action(slug).label,
            "step": in_sentence(STEP_LABELS[kind]),
        }
        return record_form(batch, kind, user), title, True
    current = recordable_step(batch)
    if current is None:
        return None, "", False
    kind, title = current
    form = record_form(batch, kind, user)
    if isinstance(form, GcsfDaysForm):
        title = _("Record G-CSF days (one signature for all)")
    return form, title, False
