"""Admin forms of the material master, lots, equipment, line clearances and monitoring: scan first.

A barcode field takes the scanned code (the cursor starts there); the forms only parse, the services decide.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from batches import limits
from batches.admin.common import PasswordForm, date_widget, datetime_widget
from batches.models import Equipment, Material, RecordKind, RecordOutcome, SampleKind
from batches.services.materials import CERTIFICATE_MAX_BYTES
from batches.services.step_inputs import WORKSTATION_KINDS


def scanned(queryset: Any, label: str, help_text: str) -> forms.ModelChoiceField:
    """A record picked by scanning its barcode (its ``code``), not from a list."""
    return forms.ModelChoiceField(
        queryset=queryset,
        to_field_name="code",
        label=label,
        help_text=help_text,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off", "class": "scan-field"}),
        error_messages={"invalid_choice": "No such barcode in the register: %(value)s."},
    )


class MaterialForm(forms.ModelForm[Material]):
    class Meta:
        model = Material
        fields = ["code", "name", "category", "grade", "supplier", "storage_condition", "unit", "specification"]
        widgets = {
            "code": forms.TextInput(attrs={"autofocus": True}),
            "specification": forms.Textarea(attrs={"rows": 3}),
        }

    def _post_clean(self) -> None:
        pass


class LotReceiveForm(forms.Form):
    code = forms.CharField(
        label=_("Lot barcode (scan the receipt label)"),
        max_length=40,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off", "class": "scan-field"}),
    )
    material = forms.ModelChoiceField(queryset=Material.objects.all(), to_field_name="code", label=_("Material code"))
    supplier_lot = forms.CharField(max_length=40)
    expiry_date = forms.DateField(widget=date_widget())
    quantity = forms.DecimalField(max_digits=10, decimal_places=2, min_value=0)
    certificate = forms.FileField(label=_("Certificate of analysis (PDF or image)"))

    def clean_certificate(self) -> Any:
        upload = self.cleaned_data["certificate"]
        if upload.size > CERTIFICATE_MAX_BYTES:
            raise forms.ValidationError(f"The certificate is larger than {CERTIFICATE_MAX_BYTES // (1024 * 1024)} MB.")
        return upload


class LotDecisionForm(PasswordForm):
    status = forms.ChoiceField(
        choices=[("released", "Release"), ("rejected", "Reject"), ("expired", "Expired"), ("recalled", "Recall")]
    )
    reason = forms.CharField(
        required=False,
        max_length=limits.REASON,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required for anything but a release."),
    )


class EquipmentForm(forms.ModelForm[Equipment]):
    class Meta:
        model = Equipment
        fields = [
            "code",
            "name",
            "kind",
            "serial_number",
            "location",
            "calibration_due",
            "maintenance_due",
            "area_grade",
        ]
        widgets = {
            "code": forms.TextInput(attrs={"autofocus": True}),
            "calibration_due": date_widget(),
            "maintenance_due": date_widget(),
        }

    def _post_clean(self) -> None:
        pass


class EquipmentRecordForm(PasswordForm):
    kind = forms.ChoiceField(choices=RecordKind.choices)
    performed_on = forms.DateField(widget=date_widget())
    outcome = forms.ChoiceField(choices=RecordOutcome.choices)
    next_due = forms.DateField(required=False, widget=date_widget())
    certificate_reference = forms.CharField(max_length=80)
    notes = forms.CharField(required=False, max_length=limits.NOTES, widget=forms.Textarea(attrs={"rows": 2}))
    field_order = ["kind", "performed_on", "outcome", "next_due", "certificate_reference", "notes", "password"]


class EquipmentStatusForm(PasswordForm):
    status = forms.ChoiceField(
        choices=[("in_service", "In service"), ("out_of_service", "Out of service"), ("quarantined", "Quarantined")]
    )
    reason = forms.CharField(max_length=limits.REASON, widget=forms.Textarea(attrs={"rows": 2}))
    field_order = ["status", "reason", "password"]


def workstation_field() -> forms.ModelChoiceField:
    return scanned(
        Equipment.objects.filter(kind__in=WORKSTATION_KINDS), "Workstation (scan its barcode)", "E.g. BSC-01."
    )


class LineClearanceForm(PasswordForm):
    workstation = workstation_field()
    performed_at = forms.DateTimeField(widget=datetime_widget())
    product_removed = forms.BooleanField(label=_("Previous product, samples and labels removed"))
    surfaces_cleaned = forms.BooleanField(label=_("Surfaces cleaned and disinfected"))
    notes = forms.CharField(required=False, max_length=limits.NOTES, widget=forms.Textarea(attrs={"rows": 2}))
    late_entry_reason = forms.CharField(required=False, max_length=limits.REASON)
    field_order = ["workstation", "performed_at", "product_removed", "surfaces_cleaned", "notes", "late_entry_reason"]


def parse_samples(text: str) -> list[tuple[str, str, str]]:
    """One sample a line: ``kind code [location]``, kind one of settle, contact, air."""
    found = []
    for line in text.splitlines():
        parts = line.split(maxsplit=2)
        if not parts:
            continue
        if len(parts) < 2 or parts[0] not in SampleKind.values:
            raise forms.ValidationError(f"“{line.strip()}”: write the kind (settle, contact, air), then the sample id.")
        found.append((parts[0], parts[1], parts[2] if len(parts) > 2 else ""))
    return found


class SamplesField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", limits.NOTES)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 4, "class": "scan-field"}))
        kwargs.setdefault(
            "help_text", "One sample a line: kind (settle, contact, air), the scanned sample id, location."
        )
        super().__init__(**kwargs)

    def clean(self, value: Any) -> list[tuple[str, str, str]]:
        return parse_samples(super().clean(value))


class SessionOpenForm(forms.Form):
    workstation = workstation_field()
    opened_at = forms.DateTimeField(widget=datetime_widget())
    samples = SamplesField()


class SessionCloseForm(forms.Form):
    closed_at = forms.DateTimeField(widget=datetime_widget())
    samples = SamplesField(required=False, label=_("Samples taken at the end (contact plates)"))


class MonitoringResultForm(PasswordForm):
    cfu = forms.IntegerField(label=_("Count (CFU)"), min_value=0, max_value=100_000)
    read_at = forms.DateTimeField(widget=datetime_widget())
    late_entry_reason = forms.CharField(required=False, max_length=limits.REASON)
    field_order = ["cfu", "read_at", "late_entry_reason", "password"]
