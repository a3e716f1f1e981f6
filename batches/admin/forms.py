"""Admin forms: they only parse input; every rule is checked again by the service they feed."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from django import forms
from django.db import models
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from batches import limits
from batches.admin.common import PasswordForm, date_widget, datetime_widget, zone_hint
from batches.master_limits import default_limits
from batches.models import ApprovalStatus, Batch, Patient, ProcessDefinition
from batches.services import record_limits
from batches.services.people import Transcription
from batches.services.steps import STEP_MODELS, editable_fields
from batches.states import BatchStatus

# Fields the form adds to a step's own fields; they are never part of the step's values.
CONTROL_FIELDS = (
    "password",
    "otp_token",
    "reason",
    "source_reference",
    "performer_name",
    "performer_staff_number",
    "lots",
    "equipment",
)
# Filled in only when the entry is written down from a source by someone who did not do the work.
TRANSCRIPTION_FIELDS = {
    "source_reference": forms.CharField(
        label=_("Transcribed from (source)"),
        required=False,
        max_length=limits.NAME,
        help_text=_(
            "Only when someone else did the work: e.g. 'Ward 4 G-CSF log, page 12'. You then sign as recorded."
        ),
    ),
    "performer_name": forms.CharField(label=_("Performed by (name)"), required=False, max_length=limits.NAME),
    "performer_staff_number": forms.CharField(label=_("Performer's staff number"), required=False, max_length=30),
}


def scan_field(label: str, help_text: str) -> forms.CharField:
    """A scan-first field: the cursor lands here, each barcode scanned ends its line."""
    return forms.CharField(
        label=label,
        required=False,
        max_length=limits.NOTES,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off", "class": "scan-field"}),
    )


def scanned_codes(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def _formfield(field: models.Field[Any, Any], **kwargs: Any) -> forms.Field | None:
    if isinstance(field, models.DateTimeField):
        kwargs["widget"] = datetime_widget()
        kwargs["help_text"] = zone_hint(str(field.help_text))
    elif isinstance(field, models.DateField):
        kwargs["widget"] = date_widget()
    elif isinstance(field, models.TextField):
        kwargs["widget"] = forms.Textarea(attrs={"rows": 2})
    return field.formfield(**kwargs)


class StepForm(PasswordForm):
    """The fields of one step plus the signature password; subclassed per kind below.

    Built for a batch, each field with a limit in the batch's process definition shows its range.
    """

    kind = ""

    def __init__(self, *args: Any, batch: Batch | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if batch is not None:
            for name, text in record_limits.parameter_help(batch, self.kind, self.fields).items():
                self.fields[name].help_text = text

    def values(self) -> dict[str, Any]:
        """The step's values as they will be stored (decimals at the column's scale)."""
        model = STEP_MODELS[self.kind]
        values = {}
        for name, value in self.cleaned_data.items():
            if name in CONTROL_FIELDS:
                continue
            if isinstance(value, Decimal):
                # "10" and "10.00" are the same dose; signing the stored form keeps the signature verifiable.
                places = getattr(model._meta.get_field(name), "decimal_places", None)
                value = value.quantize(Decimal(1).scaleb(-places)) if places is not None else value
            values[name] = value
        return values

    def transcription(self) -> Transcription | None:
        """Who performed the work and the source, when the entry is transcribed (None otherwise)."""
        data = self.cleaned_data
        if not any(data.get(name) for name in TRANSCRIPTION_FIELDS):
            return None
        return Transcription(
            source_reference=data.get("source_reference", ""),
            performer_name=data.get("performer_name", ""),
            performer_staff_number=data.get("performer_staff_number", ""),
        )


class StepRecordForm(StepForm):
    """Recording a step starts with its scans: the lots and equipment the process definition requires."""

    lots = scan_field("Material lots (scan each)", "One lot barcode per line, as printed at receipt.")
    equipment = scan_field("Equipment (scan each)", "One equipment barcode per line: instrument, cabinet…")

    def scans(self) -> dict[str, list[str]]:
        return {name: scanned_codes(self.cleaned_data.get(name, "")) for name in ("lots", "equipment")}


class StepCorrectionForm(StepForm):
    reason = forms.CharField(
        label=_("Reason for the correction"), widget=forms.Textarea(attrs={"rows": 2}), max_length=limits.REASON
    )

    def changed_values(self, current: dict[str, Any]) -> dict[str, Any]:
        """Only what differs from the stored step, at the precision the form shows (seconds)."""

        def same(a: Any, b: Any) -> bool:
            if isinstance(a, datetime) and isinstance(b, datetime):
                return a.replace(microsecond=0) == b.replace(microsecond=0)
            return bool(a == b)

        values = self.values()
        if not values.get(record_limits.ALERT_REASON_FIELD):
            values.pop(record_limits.ALERT_REASON_FIELD, None)
        return {k: v for k, v in values.items() if not same(v, current.get(k))}


@cache
def step_form_class(kind: str, *, correction: bool = False) -> type[StepForm]:
    """A form class with exactly the fields an operator enters for ``kind``."""
    fields = forms.fields_for_model(STEP_MODELS[kind], fields=editable_fields(kind), formfield_callback=_formfield)
    # The late-entry reason is the exception, not the first thing to fill in: it goes last.
    fields["late_entry_reason"] = fields.pop("late_entry_reason")
    fields["late_entry_reason"].required = False
    fields[record_limits.ALERT_REASON_FIELD] = forms.CharField(
        label=_("Reason to accept a value in its alert range"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=limits.REASON,
        required=False,
        help_text=_("Needed only when a value is outside its alert range; QA sees it as an exception."),
    )
    base = StepCorrectionForm if correction else StepRecordForm
    if not correction:  # scan first: the lots and equipment come before the values
        fields = {"lots": base.base_fields["lots"], "equipment": base.base_fields["equipment"], **fields}
        fields.update(TRANSCRIPTION_FIELDS)
    # The reason and the password come last: fill in the values, then sign (the one-time code, when
    # the signer has an authenticator, is added after the password by the form itself).
    for name in ("reason", "password"):
        if name in base.base_fields:
            fields[name] = base.base_fields[name]
    name = f"{kind.title()}{'Correction' if correction else 'Record'}Form"
    return type(name, (base,), {"kind": kind, "field_order": list(fields), **fields})


class GcsfDaysForm(PasswordForm):
    """Several G-CSF days in one signed act: one time per day given, the course's lot once."""

    kind = "gcsf"

    lots = StepRecordForm.base_fields["lots"]
    equipment = StepRecordForm.base_fields["equipment"]
    prescribed_ug_per_kg = forms.DecimalField(
        label=gettext_lazy("Prescribed dose (µg/kg)"), max_digits=6, decimal_places=2
    )
    drug_lot = forms.CharField(label=gettext_lazy("Filgrastim lot"), max_length=40)
    drug_expiry = forms.DateField(label=gettext_lazy("Filgrastim expiry"), widget=date_widget())
    late_entry_reason = forms.CharField(
        label=gettext_lazy("Late entry reason"),
        required=False,
        max_length=limits.REASON,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy(
            "Required for a day entered long after it was given (e.g. transcribed from the ward's log)."
        ),
    )

    def __init__(self, *args: Any, days: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.days = days
        per_day = {
            f"day{day}-administered_at": forms.DateTimeField(
                label=format_lazy(gettext_lazy("Day {day}: administered at"), day=day),
                required=False,
                widget=datetime_widget(),
                help_text=zone_hint(gettext_lazy("Leave empty for a day not given yet.")),
            )
            for day in days
        }
        self.fields = {**per_day, **self.fields}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not any(data.get(f"day{day}-administered_at") for day in self.days):
            raise forms.ValidationError(gettext_lazy("Enter the administration time of at least one day."))
        return data

    def scans(self) -> dict[str, list[str]]:
        """The course's lots and equipment, scanned once for the days (each day is checked against them)."""
        return StepRecordForm.scans(self)  # type: ignore[arg-type]

    def values(self) -> list[dict[str, Any]]:
        """One dict of step values per day given, as step_record takes them."""
        data = self.cleaned_data
        dose = data["prescribed_ug_per_kg"].quantize(Decimal("0.01"))
        return [
            {
                "day": day,
                "prescribed_ug_per_kg": dose,
                "drug_lot": data["drug_lot"],
                "drug_expiry": data["drug_expiry"],
                "administered_at": data[f"day{day}-administered_at"],
                "late_entry_reason": data["late_entry_reason"],
            }
            for day in self.days
            if data.get(f"day{day}-administered_at")
        ]


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for cancelling"), widget=forms.Textarea(attrs={"rows": 2}), max_length=limits.REASON
    )


class RegisterBatchForm(forms.Form):
    patient = forms.ModelChoiceField(
        queryset=Patient.objects.none(),
        required=False,
        help_text=_("Enrolled subjects whose eligibility is confirmed and who have no open batch."),
    )
    # Or a subject enrolled in the same act (the fields of the enrolment form).
    subject_code = forms.CharField(
        label=gettext_lazy("Or enrol a new subject: subject code"), max_length=20, required=False
    )
    consent_date = forms.DateField(label=gettext_lazy("Consent date"), widget=date_widget(), required=False)
    body_weight_kg = forms.DecimalField(
        label=gettext_lazy("Body weight (kg)"), max_digits=5, decimal_places=1, required=False
    )
    eligibility_confirmed = forms.BooleanField(label=gettext_lazy("Eligibility confirmed"), required=False)
    process_definition = forms.ModelChoiceField(
        queryset=ProcessDefinition.objects.none(), help_text=_("Only versions approved by two people.")
    )
    start_mobilization = forms.BooleanField(
        label=gettext_lazy("Start mobilization now"),
        required=False,
        help_text=gettext_lazy("Tick when the subject starts G-CSF today; otherwise start it from the batch page."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        open_batches = Batch.objects.exclude(status__in=[BatchStatus.CLOSED, BatchStatus.CANCELLED])
        patient_field: Any = self.fields["patient"]
        patient_field.queryset = Patient.objects.filter(eligibility_confirmed=True).exclude(
            pk__in=open_batches.values("patient")
        )
        definition_field: Any = self.fields["process_definition"]
        definition_field.queryset = ProcessDefinition.objects.filter(status=ApprovalStatus.APPROVED)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("patient")) == bool(data.get("subject_code")):
            raise forms.ValidationError(gettext_lazy("Choose an enrolled subject, or enrol a new one; not both."))
        if data.get("subject_code"):
            for name in ("consent_date", "body_weight_kg"):
                if data.get(name) is None:
                    self.add_error(name, gettext_lazy("Required to enrol a new subject."))
        return data

    def new_patient(self) -> dict[str, Any] | None:
        """patient_enrol's arguments when a new subject is enrolled in the same act."""
        data = self.cleaned_data
        if not data.get("subject_code"):
            return None
        return {
            name: data[name] for name in ("subject_code", "consent_date", "body_weight_kg", "eligibility_confirmed")
        }


def register_initial(request: Any) -> dict[str, Any]:
    """The patient named in the address (?patient=, after enrolment), and the approved definition when one only."""
    initial: dict[str, Any] = {}
    patient = request.GET.get("patient", "")
    if patient.isdigit():
        initial["patient"] = int(patient)
    approved = list(ProcessDefinition.objects.filter(status=ApprovalStatus.APPROVED).values_list("pk", flat=True)[:2])
    if len(approved) == 1:
        initial["process_definition"] = approved[0]
    return initial


class PatientEnrolForm(forms.ModelForm[Patient]):
    class Meta:
        model = Patient
        fields = ["subject_code", "consent_date", "body_weight_kg", "eligibility_confirmed"]
        widgets = {"consent_date": date_widget()}

    def _post_clean(self) -> None:
        # The service validates the patient; the form only parses (no instance is built here).
        pass


class ProcessDefinitionDraftForm(forms.ModelForm[ProcessDefinition]):
    limits = forms.JSONField(
        required=False,
        max_length=limits.LIMITS_DOCUMENT,
        initial=default_limits,
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text="Ranges, alert ranges, order of events, minimum durations, required hand-overs "
        "(docs/domain.md, Limits of the master record). Left empty: the defaults.",
    )

    def clean_limits(self) -> Any:
        return self.cleaned_data.get("limits") or default_limits()

    class Meta:
        model = ProcessDefinition
        fields = [
            "code",
            "name",
            "product_code",
            "gcsf_dose_ug_per_kg",
            "gcsf_dose_tolerance_pct",
            "gcsf_days_min",
            "gcsf_days_max",
            "target_dose_min_cells",
            "target_dose_max_cells",
            "shelf_life_hours",
            "requires_qp_certification",
            "sponsor_contact_email",
            "limits",
            "clinical_trial",
            "trial_reference",
            "transport_minutes_outside",
            "receipt_check",
        ]

    def _post_clean(self) -> None:
        pass


class ApproveForm(PasswordForm):
    confirm = forms.BooleanField(
        label=_("I have reviewed this process definition and approve it for manufacturing."), required=True
    )
