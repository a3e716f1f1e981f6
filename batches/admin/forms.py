"""Admin forms: they only parse input; every rule is checked again by the service they feed."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from django import forms
from django.db import models

from batches import limits
from batches.admin.common import PasswordForm, date_widget, datetime_widget
from batches.models import ApprovalStatus, Batch, Patient, ProcessDefinition
from batches.services.steps import STEP_MODELS, editable_fields
from batches.states import BatchStatus

# Fields the form adds to a step's own fields; they are never part of the step's values.
CONTROL_FIELDS = ("password", "otp_token", "reason")


def _formfield(field: models.Field[Any, Any], **kwargs: Any) -> forms.Field | None:
    if isinstance(field, models.DateTimeField):
        kwargs["widget"] = datetime_widget()
    elif isinstance(field, models.DateField):
        kwargs["widget"] = date_widget()
    elif isinstance(field, models.TextField):
        kwargs["widget"] = forms.Textarea(attrs={"rows": 2})
    return field.formfield(**kwargs)


class StepForm(PasswordForm):
    """The fields of one step plus the signature password; subclassed per kind below."""

    kind = ""

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


class StepCorrectionForm(StepForm):
    reason = forms.CharField(
        label="Reason for the correction", widget=forms.Textarea(attrs={"rows": 2}), max_length=limits.REASON
    )

    def changed_values(self, current: dict[str, Any]) -> dict[str, Any]:
        """Only what differs from the stored step, at the precision the form shows (seconds)."""

        def same(a: Any, b: Any) -> bool:
            if isinstance(a, datetime) and isinstance(b, datetime):
                return a.replace(microsecond=0) == b.replace(microsecond=0)
            return bool(a == b)

        return {k: v for k, v in self.values().items() if not same(v, current.get(k))}


@cache
def step_form_class(kind: str, *, correction: bool = False) -> type[StepForm]:
    """A form class with exactly the fields an operator enters for ``kind``."""
    fields = forms.fields_for_model(STEP_MODELS[kind], fields=editable_fields(kind), formfield_callback=_formfield)
    # The late-entry reason is the exception, not the first thing to fill in: it goes last.
    fields["late_entry_reason"] = fields.pop("late_entry_reason")
    fields["late_entry_reason"].required = False
    base = StepCorrectionForm if correction else StepForm
    # The reason and the password come last: fill in the values, then sign (the one-time code, when
    # the signer has an authenticator, is added after the password by the form itself).
    for name in ("reason", "password"):
        if name in base.base_fields:
            fields[name] = base.base_fields[name]
    name = f"{kind.title()}{'Correction' if correction else 'Record'}Form"
    return type(name, (base,), {"kind": kind, "field_order": list(fields), **fields})


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Reason for cancelling", widget=forms.Textarea(attrs={"rows": 2}), max_length=limits.REASON
    )


class RegisterBatchForm(forms.Form):
    patient = forms.ModelChoiceField(
        queryset=Patient.objects.none(),
        help_text="Enrolled subjects whose eligibility is confirmed and who have no open batch.",
    )
    process_definition = forms.ModelChoiceField(
        queryset=ProcessDefinition.objects.none(), help_text="Only versions approved by two people."
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


class PatientEnrolForm(forms.ModelForm[Patient]):
    class Meta:
        model = Patient
        fields = ["subject_code", "consent_date", "body_weight_kg", "eligibility_confirmed"]
        widgets = {"consent_date": date_widget()}

    def _post_clean(self) -> None:
        # The service validates the patient; the form only parses (no instance is built here).
        pass


class ProcessDefinitionDraftForm(forms.ModelForm[ProcessDefinition]):
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
            "trial_reference",
            "transport_low_c",
            "transport_high_c",
            "transport_minutes_outside",
            "receipt_check",
        ]

    def _post_clean(self) -> None:
        pass


class ApproveForm(PasswordForm):
    confirm = forms.BooleanField(
        label="I have reviewed this process definition and approve it for manufacturing.", required=True
    )
