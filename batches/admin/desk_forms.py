"""Forms of the delivery desk: each one parses the arguments of one custody, delivery or follow-up service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from batches import limits
from batches.admin.common import PasswordForm, datetime_widget
from batches.models.delivery import AdverseEventPhase, Relatedness
from batches.models.followup import Menses

TEMPERATURE = _("Temperature (°C)")


def temperature(label: StrOrPromise = TEMPERATURE) -> forms.DecimalField:
    return forms.DecimalField(label=label, max_digits=4, decimal_places=1)


def when(label: StrOrPromise, *, required: bool = True, help_text: StrOrPromise = "") -> forms.DateTimeField:
    return forms.DateTimeField(label=label, widget=datetime_widget(), required=required, help_text=help_text)


def text(
    label: StrOrPromise,
    *,
    rows: int = 2,
    required: bool = False,
    help_text: StrOrPromise = "",
    max_length: int = limits.NOTES,
) -> forms.CharField:
    return forms.CharField(
        label=label,
        widget=forms.Textarea(attrs={"rows": rows}),
        required=required,
        help_text=help_text,
        max_length=max_length,
    )


def now_local() -> str:
    """The current time as a datetime-local input shows it (to the second), the default of "when" fields."""
    return timezone.localtime().strftime("%Y-%m-%dT%H:%M:%S")


class HandOverForm(forms.Form):
    """Collection → laboratory: the operator who hands over; another operator receives with a scan."""

    from_location = forms.CharField(label=_("Handed over from"), max_length=120)
    to_location = forms.CharField(label=_("Handed over to"), max_length=120)
    handed_over_at = when(_("Handed over at"), help_text=_("Server time zone; not in the future."))
    temperature_c = temperature(_("Temperature at hand-over (°C)"))
    notes = text(_("Notes"), help_text=_("Also the reason for a late entry, if the hand-over was long ago."))


class QcHandOverForm(HandOverForm):
    """Laboratory → QC sample: names the sample; a QC analyst receives it with a scan."""

    sample_reference = forms.CharField(label=_("QC sample identifier"), max_length=40)
    field_order = ["sample_reference", "from_location", "to_location", "handed_over_at", "temperature_c", "notes"]


class ReceiveForm(forms.Form):
    custody_event = forms.IntegerField(widget=forms.HiddenInput, required=False)
    scanned_data = forms.CharField(label=_("Scan the bag's DIN barcode"), max_length=80)
    temperature_c = temperature(_("Temperature at receipt (°C)"))


class DispatchForm(PasswordForm):
    to_location = forms.CharField(label=_("Dispatched to"), max_length=120)
    from_location = forms.CharField(label=_("Dispatched from"), max_length=120, required=False)
    temperature_c = temperature(_("Temperature at dispatch (°C)"))
    field_order = ["to_location", "from_location", "temperature_c", "password"]


class ExpiredUseForm(PasswordForm):
    deviation_reference = forms.CharField(
        label=_("Documented deviation"),
        max_length=40,
        help_text=_("The deviation that covers this use, e.g. DEV-2026-014."),
    )
    reason = text(
        _("Risk evaluation and the treating physician's request"),
        rows=3,
        required=True,
        help_text=_("Kept with the record."),
    )
    valid_until = when(_("Authorised until"), help_text=_("Must be after the product's expiry."))
    field_order = ["deviation_reference", "reason", "valid_until", "password"]


class BedsideScanForm(PasswordForm):
    scanned_data = forms.CharField(label=_("Scan the bag's DIN barcode"), max_length=80)
    patient_subject_code = forms.CharField(label=_("Patient wristband (subject code)"), max_length=20)
    field_order = ["scanned_data", "patient_subject_code", "password"]


class BedsideConfirmForm(PasswordForm):
    scanned_data = forms.CharField(label=_("Second clinician: scan the bag again"), max_length=80)
    field_order = ["scanned_data", "password"]


class InfusionForm(PasswordForm):
    started_at = when(_("Infusion started"))
    ended_at = when(_("Infusion ended"))
    left_cells = forms.IntegerField(
        min_value=0, max_value=limits.BIGINT_MAX, label=_("Left uterine artery: CD133+ cells")
    )
    left_volume_ml = forms.DecimalField(min_value=0, max_digits=6, decimal_places=1, label=_("Left: volume (mL)"))
    right_cells = forms.IntegerField(
        min_value=0, max_value=limits.BIGINT_MAX, label=_("Right uterine artery: CD133+ cells")
    )
    right_volume_ml = forms.DecimalField(min_value=0, max_digits=6, decimal_places=1, label=_("Right: volume (mL)"))
    notes = text(_("Notes"))
    late_entry_reason = forms.CharField(label=_("Late-entry reason"), required=False, max_length=limits.REASON)
    field_order = [
        "started_at",
        "ended_at",
        "left_cells",
        "left_volume_ml",
        "right_cells",
        "right_volume_ml",
        "notes",
        "late_entry_reason",
        "password",
    ]


class AdverseEventForm(forms.Form):
    phase = forms.ChoiceField(choices=AdverseEventPhase.choices)
    term = forms.CharField(label=_("CTCAE term"), max_length=120)
    ctcae_grade = forms.TypedChoiceField(
        label=_("CTCAE grade"),
        coerce=int,
        choices=[
            (1, _("1 – mild")),
            (2, _("2 – moderate")),
            (3, _("3 – severe")),
            (4, _("4 – life-threatening")),
            (5, _("5 – death")),
        ],
    )
    relatedness = forms.ChoiceField(label=_("Related to the cells"), choices=Relatedness.choices)
    serious = forms.BooleanField(required=False, help_text=_("Grade 4 and 5 are always serious."))
    onset_at = when(_("Onset"))
    resolved_at = when(_("Resolved"), required=False)
    notes = text(_("Notes"))


class CloseForm(PasswordForm):
    reason = forms.CharField(label=_("Comment (optional)"), required=False, max_length=limits.SHORT_COMMENT)
    field_order = ["reason", "password"]


class FollowUpForm(forms.Form):
    visit_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    menses = forms.ChoiceField(choices=Menses.choices)
    endometrial_thickness_mm = forms.DecimalField(
        label=_("Endometrial thickness (mm)"), max_digits=4, decimal_places=1, required=False
    )
    adhesion_score = forms.IntegerField(label=_("Adhesion score (AFS 0–12)"), min_value=0, max_value=12, required=False)
    notes = text(_("Notes"))


class EmbryoTransferForm(forms.Form):
    transfer_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    embryos_transferred = forms.IntegerField(min_value=1, max_value=limits.SMALLINT_MAX, initial=1)
    notes = text(_("Notes"))


OUTCOME_CHOICES = [("", _("not known yet")), ("yes", "yes"), ("no", "no")]


def outcome_field(label: StrOrPromise) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        choices=OUTCOME_CHOICES,
        required=False,
        coerce=lambda value: {"yes": True, "no": False}.get(value),
        empty_value=None,
    )


def outcome_initial(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


class OutcomeForm(forms.Form):
    transfer = forms.IntegerField(widget=forms.HiddenInput)
    implantation = outcome_field(_("Implantation"))
    clinical_pregnancy = outcome_field(_("Clinical pregnancy"))
    live_birth = outcome_field(_("Live birth"))
    reason = forms.CharField(
        label=_("Reason for a change"),
        required=False,
        max_length=limits.SHORT_COMMENT,
        help_text=_("Needed to change a known outcome."),
    )


def cleaned(form: forms.Form, *drop: str) -> dict[str, Any]:
    """The form's values as service arguments (without the hidden record ids)."""
    return {name: value for name, value in form.cleaned_data.items() if name not in drop}
