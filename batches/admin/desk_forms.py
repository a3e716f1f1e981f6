"""Forms of the delivery desk: each one parses the arguments of one custody, delivery or follow-up service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from batches import limits
from batches.admin.common import PasswordForm, datetime_widget, zone_hint
from batches.models import LabelBag, LabelFormat, LabelStatus
from batches.models.delivery import AdverseEventPhase, Relatedness
from batches.models.followup import Menses
from batches.services.scans import KeyedOverride

TEMPERATURE = _("Temperature (°C)")


def temperature(label: StrOrPromise = TEMPERATURE) -> forms.DecimalField:
    return forms.DecimalField(label=label, max_digits=4, decimal_places=1)


def when(label: StrOrPromise, *, required: bool = True, help_text: StrOrPromise = "") -> forms.DateTimeField:
    return forms.DateTimeField(label=label, widget=datetime_widget(), required=required, help_text=zone_hint(help_text))


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


def alert_reason() -> forms.CharField:
    """Why a value in its alert range (process definition) is accepted; shown to QA as an exception."""
    return text(
        "Reason to accept a value in its alert range",
        help_text="Needed only when a value is outside its alert range; QA sees it as an exception.",
        max_length=limits.REASON,
    )


def now_local() -> str:
    """The current time as a datetime-local input shows it (to the second), the default of "when" fields."""
    return timezone.localtime().strftime("%Y-%m-%dT%H:%M:%S")


class HandOverForm(forms.Form):
    """Collection → laboratory: the operator who hands over; another operator receives with a scan."""

    from_location = forms.CharField(label=_("Handed over from"), max_length=120)
    to_location = forms.CharField(label=_("Handed over to"), max_length=120)
    handed_over_at = when(_("Handed over at"), help_text=_("Not in the future."))
    temperature_c = temperature(_("Temperature at hand-over (°C)"))
    notes = text(_("Notes"), help_text=_("Also the reason for a late entry, if the hand-over was long ago."))
    alert_reason = alert_reason()


class QcHandOverForm(HandOverForm):
    """Laboratory → QC sample: names the sample; a QC analyst receives it with a scan."""

    sample_reference = forms.CharField(label=_("QC sample identifier"), max_length=40)
    field_order = [
        "sample_reference",
        "from_location",
        "to_location",
        "handed_over_at",
        "temperature_c",
        "notes",
        "alert_reason",
    ]


def scan_field(
    label: StrOrPromise, kind: str = "din", *, required: bool = True, max_length: int = 80
) -> forms.CharField:
    """An identity field: the scanner types into it and its Enter checks it on its own (scanner.js)."""
    attrs = {"data-scan-kind": kind, "autocomplete": "off", "spellcheck": "false", "class": "cb-scan"}
    return forms.CharField(label=label, max_length=max_length, required=required, widget=forms.TextInput(attrs=attrs))


class OverrideFields(forms.Form):
    """Only for an identity keyed by hand: the second person signs the override, with the reason."""

    override_username = forms.CharField(
        label="Keyed identity: second person (user name)",
        max_length=150,
        required=False,
        help_text="Only when the DIN was typed, not scanned.",
        widget=forms.TextInput(attrs={"data-override": "1", "autocomplete": "off"}),
    )
    override_password = forms.CharField(
        label="Second person's password",
        max_length=limits.PASSWORD,
        required=False,
        widget=forms.PasswordInput(attrs={"data-override": "1", "autocomplete": "off"}),
    )
    override_reason = forms.CharField(
        label="Why it was keyed",
        max_length=limits.REASON,
        required=False,
        widget=forms.TextInput(attrs={"data-override": "1"}),
    )


class ReceiptScanForm(OverrideFields):
    """The first of the two independent scans at receipt: someone other than the receiver."""

    custody_event = forms.IntegerField(widget=forms.HiddenInput, required=False)
    scanned_data = scan_field("First person: scan the bag's DIN barcode")
    field_order = ["custody_event", "scanned_data"]


class ReceiveForm(OverrideFields):
    """The receiver's scan (the second of two people), the temperature and the logger's file."""

    custody_event = forms.IntegerField(widget=forms.HiddenInput, required=False)
    scanned_data = scan_field(_("Scan the bag's DIN barcode"))
    temperature_c = temperature(_("Temperature at receipt (°C)"))
    alert_reason = alert_reason()
    logger_model = forms.ChoiceField(label="Temperature logger model", required=False, choices=[])
    logger_file = forms.FileField(
        label="Temperature logger file (CSV)", required=False, help_text="Without it, receipt needs QA's waiver."
    )
    field_order = ["custody_event", "scanned_data", "temperature_c", "alert_reason", "logger_model", "logger_file"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from batches.models import TemperatureLoggerModel

        super().__init__(*args, **kwargs)
        names = TemperatureLoggerModel.objects.order_by("name").values_list("name", flat=True)
        self.fields["logger_model"].choices = [("", "—"), *((n, n) for n in names)]  # type: ignore[attr-defined]


class ReceiveWithDocumentForm(ReceiveForm):
    """The receiver scans the bag and the accompanying document (the process definition's choice)."""

    document_scan = scan_field("Scan the DIN on the accompanying document")
    field_order = [
        "custody_event",
        "scanned_data",
        "document_scan",
        "temperature_c",
        "alert_reason",
        "logger_model",
        "logger_file",
    ]


class SampleReceiveForm(OverrideFields):
    """A QC sample: the analyst's scan of the sample's DIN label."""

    custody_event = forms.IntegerField(widget=forms.HiddenInput, required=False)
    scanned_data = scan_field(_("Scan the bag's DIN barcode"))
    temperature_c = temperature(_("Temperature at receipt (°C)"))
    field_order = ["custody_event", "scanned_data", "temperature_c"]


class DispatchForm(PasswordForm):
    to_location = forms.CharField(label=_("Dispatched to"), max_length=120)
    from_location = forms.CharField(label=_("Dispatched from"), max_length=120, required=False)
    temperature_c = temperature(_("Temperature at dispatch (°C)"))
    alert_reason = alert_reason()
    shipper_code = scan_field("Shipper (scan its register code)", "equipment", required=False, max_length=40)
    field_order = ["to_location", "from_location", "temperature_c", "alert_reason", "shipper_code", "password"]


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


class BedsideScanForm(OverrideFields):
    """The first clinician's scans: recorded at once, signed with the infusion they record (or on their own)."""

    scanned_data = scan_field(_("Scan the bag's DIN barcode"))
    patient_subject_code = scan_field("Scan the patient's wristband (subject code)", "wristband", max_length=20)
    field_order = ["scanned_data", "patient_subject_code"]


class BedsideConfirmForm(PasswordForm, OverrideFields):
    """The second clinician scans bag and wristband again, independently of the first, and signs."""

    scanned_data = scan_field("Second clinician: scan the bag's DIN barcode")
    patient_subject_code = scan_field("Second clinician: scan the patient's wristband", "wristband", max_length=20)
    field_order = ["scanned_data", "patient_subject_code", "password"]


class BedsideSignForm(PasswordForm):
    """The first clinician signs their bedside scan on its own (another clinician records the infusion)."""


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
    alert_reason = alert_reason()
    field_order = [
        "started_at",
        "ended_at",
        "left_cells",
        "left_volume_ml",
        "right_cells",
        "right_volume_ml",
        "notes",
        "late_entry_reason",
        "alert_reason",
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


class LabelPrintForm(forms.Form):
    bag = forms.ChoiceField(choices=LabelBag.choices)
    copies = forms.IntegerField(min_value=1, max_value=20, initial=1)
    printer = forms.CharField(max_length=80, help_text="The printer's name or asset code.")
    label_format = forms.ChoiceField(label="Format", choices=LabelFormat.choices, initial=LabelFormat.ZPL)
    reason = forms.CharField(
        max_length=limits.REASON, help_text="Why: the first labels of the bag, or why a reprint (it voids the others)."
    )


class LabelAccountForm(forms.Form):
    label_id = scan_field("Scan the label's own barcode (label id)", "label", max_length=24)
    status = forms.ChoiceField(choices=[(s.value, s.label) for s in LabelStatus if s != LabelStatus.ISSUED])
    reason = forms.CharField(max_length=limits.REASON, required=False, help_text="Needed to remove an applied label.")


class LabelReconcileForm(PasswordForm):
    """Sign the count: issued = applied + destroyed + returned."""


class FinalContainerForm(PasswordForm):
    container_type = forms.CharField(max_length=80, help_text="E.g. 50 mL transfer bag.")
    container_lot = forms.CharField(max_length=40)
    container_expiry = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    appearance_ok = forms.BooleanField(required=False, label="Appearance as expected (colour, clarity, no clumps)")
    integrity_ok = forms.BooleanField(required=False, label="Container intact (no leak, seals and ports intact)")
    label_ok = forms.BooleanField(required=False, label="Label correct, current and legible")
    notes = text("What the inspection found", help_text="Required when a check fails.")
    field_order = [
        "container_type",
        "container_lot",
        "container_expiry",
        "appearance_ok",
        "integrity_ok",
        "label_ok",
        "notes",
        "password",
    ]


class PackagingForm(FinalContainerForm):
    """The labels' reconciliation and the final container's inspection, signed together; the final bag's
    label scanned here is accounted for as applied first."""

    final_label = scan_field("Scan the final bag's label (label id)", "label", max_length=24, required=False)
    field_order = ["final_label", *FinalContainerForm.field_order]


def keyed_override(data: dict[str, Any]) -> KeyedOverride | None:
    """Take the override fields out of the form's values: an override when a second person is named."""
    username, password = data.pop("override_username", "") or "", data.pop("override_password", "") or ""
    reason = data.pop("override_reason", "") or ""
    return KeyedOverride(username, password, reason) if username else None


def cleaned(form: forms.Form, *drop: str) -> dict[str, Any]:
    """The form's values as service arguments (without the hidden record ids)."""
    return {name: value for name, value in form.cleaned_data.items() if name not in drop}
