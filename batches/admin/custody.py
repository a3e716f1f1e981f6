"""Admin pages for custody, delivery and follow-up: read-only records, the label PDF and the cohort page.

Records are written only through the services (API or the forms that call them); the admin shows
them to every batch role and lets nobody edit or delete them here.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone

from batches import cohort, labels
from batches.admin.common import SigningForm, acting_user
from batches.exceptions import StateConflict
from batches.models import (
    AdverseEvent,
    Batch,
    BedsideCheck,
    CustodyEvent,
    EmbryoTransfer,
    ExpiredUseAuthorization,
    FollowUpVisit,
    IdentityScan,
    Infusion,
    PatientIdentity,
)
from batches.models.custody import HandOff
from batches.models.followup import Menses
from batches.roles import Role, has_role
from batches.services import custody as custody_services
from batches.services import delivery as delivery_services
from batches.services import followup as followup_services
from batches.states import BatchStatus

READ_ROLES = (
    Role.OPERATOR,
    Role.QC_ANALYST,
    Role.VERIFIER,
    Role.QA_REVIEWER,
    Role.QUALIFIED_PERSON,
    Role.CLINICIAN,
    Role.AUDITOR,
)


class ReadOnlyRecordAdmin(admin.ModelAdmin):
    """Visible to every batch role; never added, changed or deleted through the admin."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return has_role(request.user, *READ_ROLES)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return has_role(request.user, *READ_ROLES)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(PatientIdentity)
class PatientIdentityAdmin(ReadOnlyRecordAdmin):
    list_display = ["patient", "coi_identifier", "allocated_at"]
    list_select_related = ["patient"]
    search_fields = ["patient__subject_code", "coi_identifier"]


@admin.register(CustodyEvent)
class CustodyEventAdmin(ReadOnlyRecordAdmin):
    list_display = [
        "batch",
        "kind",
        "from_location",
        "to_location",
        "handed_over_by",
        "handed_over_at",
        "received_by",
        "received_at",
        "temperature_at_receipt_c",
    ]
    list_filter = ["kind"]
    list_select_related = ["batch", "handed_over_by", "received_by"]
    search_fields = ["batch__batch_number", "batch__din", "scanned_identifier"]

    def get_urls(self) -> list[URLPattern]:
        extra = [path("labels/<int:batch_id>/", self.admin_site.admin_view(self.labels_view), name="batch_labels")]
        return extra + super().get_urls()

    def labels_view(self, request: HttpRequest, batch_id: int) -> HttpResponse:
        """The batch's bag labels as a PDF, ready to print."""
        if not has_role(request.user, *READ_ROLES):
            raise PermissionDenied("Printing labels needs a batch role.")
        batch = get_object_or_404(Batch.objects.select_related("patient", "process_definition"), pk=batch_id)
        try:
            pdf = labels.batch_labels_pdf(batch)
        except ValueError as exc:
            raise Http404(str(exc)) from exc
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="labels-{batch.din}.pdf"'
        return response


@admin.register(IdentityScan)
class IdentityScanAdmin(ReadOnlyRecordAdmin):
    list_display = ["batch", "point", "matched", "scanned_data", "expected", "scanned_by", "scanned_at", "message"]
    list_filter = ["matched", "point"]
    list_select_related = ["batch", "scanned_by"]
    search_fields = ["batch__batch_number", "scanned_data"]


@admin.register(ExpiredUseAuthorization)
class ExpiredUseAuthorizationAdmin(ReadOnlyRecordAdmin):
    list_display = ["batch", "deviation_reference", "valid_until", "authorized_by", "authorized_at"]
    list_select_related = ["batch", "authorized_by"]


@admin.register(BedsideCheck)
class BedsideCheckAdmin(ReadOnlyRecordAdmin):
    list_display = ["batch", "patient_subject_code", "checked_by", "checked_at", "confirmed_by", "confirmed_at"]
    list_select_related = ["batch", "checked_by", "confirmed_by"]

    def get_urls(self) -> list[URLPattern]:
        desk = self.admin_site.admin_view(delivery_desk_view)
        return [path("desk/<int:batch_id>/", desk, name="batches_delivery_desk"), *super().get_urls()]


@admin.register(Infusion)
class InfusionAdmin(ReadOnlyRecordAdmin):
    list_display = [
        "batch",
        "operator",
        "started_at",
        "ended_at",
        "left_cells",
        "right_cells",
        "minutes_from_end_of_processing",
    ]
    list_select_related = ["batch", "operator"]

    def get_urls(self) -> list[URLPattern]:
        extra = [path("cohort/", self.admin_site.admin_view(self.cohort_view), name="batches_cohort")]
        return extra + super().get_urls()

    def cohort_view(self, request: HttpRequest) -> TemplateResponse:
        """What the trial reports, computed from the records, with dose against outcome."""
        if not has_role(request.user, *READ_ROLES):
            raise PermissionDenied("The cohort page needs a batch role.")
        outcomes = cohort.outcomes_from_records()
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": "Cohort: treated patients and outcomes",
            "summary": cohort.summarize(outcomes),
            "outcomes": outcomes,
            "plot": cohort.dose_outcome_svg(outcomes),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "batches/custody/cohort.html", context)


@admin.register(AdverseEvent)
class AdverseEventAdmin(ReadOnlyRecordAdmin):
    list_display = ["batch", "phase", "term", "ctcae_grade", "relatedness", "serious", "onset_at", "reported_by"]
    list_filter = ["phase", "ctcae_grade", "relatedness", "serious"]
    list_select_related = ["batch", "reported_by"]


@admin.register(FollowUpVisit)
class FollowUpVisitAdmin(ReadOnlyRecordAdmin):
    list_display = ["batch", "visit_date", "menses", "endometrial_thickness_mm", "adhesion_score", "recorded_by"]
    list_select_related = ["batch", "recorded_by"]


@admin.register(EmbryoTransfer)
class EmbryoTransferAdmin(ReadOnlyRecordAdmin):
    list_display = ["batch", "transfer_date", "embryos_transferred", "implantation", "clinical_pregnancy", "live_birth"]
    list_filter = ["implantation", "clinical_pregnancy", "live_birth"]
    list_select_related = ["batch"]


# --- the bedside desk: clinicians record receipt, the two-person check, the infusion, follow-up ------


class ReceiveForm(forms.Form):
    scanned_data = forms.CharField(label="Scan the bag's DIN barcode", max_length=80)
    temperature_c = forms.DecimalField(label="Temperature at receipt (°C)", max_digits=4, decimal_places=1)


class BedsideScanForm(SigningForm):
    scanned_data = forms.CharField(label="Scan the bag's DIN barcode", max_length=80)
    patient_subject_code = forms.CharField(label="Patient wristband (subject code)", max_length=20)
    password = forms.CharField(widget=forms.PasswordInput, label="Your password (signature)")


class BedsideConfirmForm(SigningForm):
    scanned_data = forms.CharField(label="Second clinician: scan the bag again", max_length=80)
    password = forms.CharField(widget=forms.PasswordInput, label="Your password (signature)")


class InfusionForm(SigningForm):
    started_at = forms.DateTimeField()
    ended_at = forms.DateTimeField()
    left_cells = forms.IntegerField(min_value=0, label="Left uterine artery: CD133+ cells")
    left_volume_ml = forms.DecimalField(min_value=0, max_digits=6, decimal_places=1, label="Left: volume (mL)")
    right_cells = forms.IntegerField(min_value=0, label="Right uterine artery: CD133+ cells")
    right_volume_ml = forms.DecimalField(min_value=0, max_digits=6, decimal_places=1, label="Right: volume (mL)")
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    late_entry_reason = forms.CharField(required=False)
    password = forms.CharField(widget=forms.PasswordInput, label="Your password (signature)")


class FollowUpForm(forms.Form):
    visit_date = forms.DateField()
    menses = forms.ChoiceField(choices=Menses.choices)
    endometrial_thickness_mm = forms.DecimalField(max_digits=4, decimal_places=1, required=False)
    adhesion_score = forms.IntegerField(min_value=0, max_value=12, required=False)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


def _desk_forms(batch: Batch) -> dict[str, type[forms.Form]]:
    """The forms that apply in the batch's current state, in the order they are used."""
    if batch.status == BatchStatus.DISPATCHED:
        pending = batch.custody_events.filter(kind=HandOff.LAB_TO_RADIOLOGY, received_at__isnull=True).exists()
        if pending:
            return {"receive": ReceiveForm}
        check = BedsideCheck.objects.filter(batch=batch).first()
        if check is None:
            return {"bedside_scan": BedsideScanForm}
        if not check.is_confirmed:
            return {"bedside_confirm": BedsideConfirmForm}
        return {"infusion": InfusionForm}
    if batch.status in (BatchStatus.INFUSED, BatchStatus.CLOSED):
        return {"follow_up": FollowUpForm}
    return {}


def _desk_form(cls: type[forms.Form], request: HttpRequest, *args: Any) -> forms.Form:
    """A desk form; a signing one is built for the signed-in user (it asks for a code when they have one)."""
    if issubclass(cls, SigningForm):
        return cls(*args, signer=acting_user(request))
    return cls(*args)


def _desk_call(action: str, request: HttpRequest, batch: Batch, data: dict[str, Any]) -> None:
    user: Any = request.user
    now = timezone.now()
    if action == "receive":
        event = batch.custody_events.get(kind=HandOff.LAB_TO_RADIOLOGY, received_at__isnull=True)
        custody_services.custody_receive(actor=user, custody_event_id=event.pk, received_at=now, **data)
    elif action == "bedside_scan":
        delivery_services.bedside_check_scan(actor=user, batch_id=batch.pk, **data)
    elif action == "bedside_confirm":
        delivery_services.bedside_check_confirm(actor=user, batch_id=batch.pk, **data)
    elif action == "infusion":
        password, otp_token = data.pop("password"), data.pop("otp_token", "")
        delivery_services.infusion_record(
            actor=user, batch_id=batch.pk, password=password, otp_token=otp_token, values=data
        )
    elif action == "follow_up":
        followup_services.follow_up_visit_record(actor=user, batch_id=batch.pk, **data)


def delivery_desk_view(request: HttpRequest, batch_id: int) -> HttpResponse:
    """One page per batch at the bedside: only the next step's form, each submit through its service."""
    if not has_role(request.user, *READ_ROLES):
        raise PermissionDenied("The delivery desk needs a batch role.")
    batch = get_object_or_404(Batch.objects.select_related("patient", "process_definition"), pk=batch_id)
    available = _desk_forms(batch)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    bound: forms.Form | None = None
    if action:
        if action not in available:
            messages.error(request, "That step is not the current one for this batch; the page shows what is.")
            return redirect(request.path)
        bound = _desk_form(available[action], request, request.POST)
        if bound.is_valid():
            try:
                _desk_call(action, request, batch, dict(bound.cleaned_data))
            except StateConflict as exc:
                messages.error(request, " ".join(exc.messages))
            except ValidationError as exc:
                for message in exc.messages:
                    messages.error(request, message)
            except PermissionDenied as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, "Recorded.")
                return redirect(request.path)
    forms_in_page = [
        (name, bound if bound is not None and name == action else _desk_form(cls, request))
        for name, cls in available.items()
    ]
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": f"Delivery of batch {batch.batch_number}",
        "batch": batch,
        "expires_at": custody_services.expires_at(batch),
        "forms": forms_in_page,
        "scans": batch.identity_scans.select_related("scanned_by").order_by("-scanned_at")[:20],
    }
    return TemplateResponse(request, "batches/custody/delivery_desk.html", context)
