"""Admin lists of custody, delivery and follow-up records: read-only.

Records are written only through the services: the API, or the delivery desk (batches.views.desk).
The admin shows them to every batch role and lets nobody edit or delete them here.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from batches.models import (
    AdverseEvent,
    BedsideCheck,
    CustodyEvent,
    EmbryoTransfer,
    ExpiredUseAuthorization,
    FollowUpVisit,
    IdentityScan,
    Infusion,
    PatientIdentity,
)
from batches.roles import BATCH_ROLES, has_role


class ReadOnlyRecordAdmin(admin.ModelAdmin):
    """Visible to every batch role; never added, changed or deleted through the admin."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return has_role(request.user, *BATCH_ROLES)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return has_role(request.user, *BATCH_ROLES)

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
