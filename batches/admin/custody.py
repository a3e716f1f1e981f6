"""Admin pages for custody, delivery and follow-up: read-only records, the label PDF and the cohort page.

Records are written only through the services: the API, or the delivery desk (batches.admin.desk),
whose pages are mounted here. The admin shows them to every batch role and lets nobody edit or
delete them here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from batches import cohort, labels
from batches.admin.desk import DESK_ROLES, DESK_STATES, delivery_desk_view
from batches.admin.links import DELIVERY, register_batch_link
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
from batches.roles import has_role
from batches.states import BatchStatus

READ_ROLES = DESK_ROLES


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
        wrap = self.admin_site.admin_view
        return [
            path("desk/", wrap(desk_index_view), name="batches_delivery_desk_index"),
            path("desk/<int:batch_id>/", wrap(delivery_desk_view), name="batches_delivery_desk"),
            *super().get_urls(),
        ]


def desk_index_view(request: HttpRequest) -> HttpResponse:
    """The batches the desk can work on, grouped by state, each with a link to its desk page."""
    if not has_role(request.user, *DESK_ROLES):
        raise PermissionDenied("The delivery desk needs a batch role.")
    order = {state: i for i, state in enumerate(DESK_STATES)}
    batches = sorted(
        Batch.objects.filter(status__in=DESK_STATES).select_related("patient"),
        key=lambda b: (order[BatchStatus(b.status)], b.batch_number),
    )
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": "Delivery desk",
        "batches": batches,
    }
    return TemplateResponse(request, "batches/custody/desk_index.html", context)


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


register_batch_link(
    section=DELIVERY,
    label="Delivery desk: hand-overs, dispatch, bedside check, infusion, follow-up",
    url=lambda batch: reverse("admin:batches_delivery_desk", args=[batch.pk]),
    roles=READ_ROLES,
    when=lambda batch: batch.status in DESK_STATES,
)
register_batch_link(
    section=DELIVERY,
    label="Bag labels (PDF)",
    url=lambda batch: reverse("admin:batch_labels", args=[batch.pk]),
    roles=READ_ROLES,
    when=lambda batch: bool(batch.din),
)
