"""Serializers of the custody, delivery and follow-up API: records out, service arguments in."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

from batches import limits
from batches.api.fields import (  # one signing body for the whole API
    PasswordSerializer,
    alert_reason_field,
    password_field,
)
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
from batches.models.custody import HandOff
from batches.models.delivery import AdverseEventPhase, Relatedness
from batches.models.followup import Menses
from batches.models.shipping import LOGGER_FILE_MAX_CHARS
from batches.services.receipt import LoggerFile
from batches.services.scans import KeyedOverride

# --- read serializers --------------------------------------------------------------------------


class PatientIdentitySerializer(serializers.ModelSerializer[PatientIdentity]):
    subject_code = serializers.CharField(source="patient.subject_code", read_only=True)

    class Meta:
        model = PatientIdentity
        fields = ["id", "patient", "subject_code", "coi_identifier", "allocated_at"]


class CustodyEventSerializer(serializers.ModelSerializer[CustodyEvent]):
    class Meta:
        model = CustodyEvent
        fields = "__all__"


class IdentityScanSerializer(serializers.ModelSerializer[IdentityScan]):
    class Meta:
        model = IdentityScan
        fields = "__all__"


class ExpiredUseAuthorizationSerializer(serializers.ModelSerializer[ExpiredUseAuthorization]):
    class Meta:
        model = ExpiredUseAuthorization
        fields = "__all__"


class BedsideCheckSerializer(serializers.ModelSerializer[BedsideCheck]):
    class Meta:
        model = BedsideCheck
        fields = "__all__"


class InfusionSerializer(serializers.ModelSerializer[Infusion]):
    total_cells = serializers.IntegerField(read_only=True)

    class Meta:
        model = Infusion
        fields = "__all__"


class AdverseEventSerializer(serializers.ModelSerializer[AdverseEvent]):
    class Meta:
        model = AdverseEvent
        fields = "__all__"


class FollowUpVisitSerializer(serializers.ModelSerializer[FollowUpVisit]):
    class Meta:
        model = FollowUpVisit
        fields = "__all__"


class EmbryoTransferSerializer(serializers.ModelSerializer[EmbryoTransfer]):
    class Meta:
        model = EmbryoTransfer
        fields = "__all__"


# --- input serializers -------------------------------------------------------------------------


class HandOverInput(serializers.Serializer[Any]):
    batch = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=[HandOff.COLLECTION_TO_LAB, HandOff.LAB_TO_QC])
    from_location = serializers.CharField(max_length=120)
    to_location = serializers.CharField(max_length=120)
    handed_over_at = serializers.DateTimeField()
    temperature_c = serializers.DecimalField(max_digits=4, decimal_places=1)
    sample_reference = serializers.CharField(max_length=40, required=False, default="", allow_blank=True)
    notes = serializers.CharField(max_length=limits.NOTES, required=False, default="", allow_blank=True)
    alert_reason = alert_reason_field()
    shipper_code = serializers.CharField(max_length=40, required=False, default="", allow_blank=True)


class KeyedOverrideInput(serializers.Serializer[Any]):
    """A keyed (hand-typed) identity is accepted only with a second person's signature and a reason."""

    override_username = serializers.CharField(max_length=150, required=False, default="", allow_blank=True)
    override_password = serializers.CharField(
        max_length=limits.PASSWORD, required=False, default="", allow_blank=True, write_only=True
    )
    override_reason = serializers.CharField(max_length=limits.REASON, required=False, default="", allow_blank=True)


def keyed_override(data: dict[str, Any]) -> KeyedOverride | None:
    """Take the override fields out of ``data``: an override when a second person is named."""
    username, password = data.pop("override_username", ""), data.pop("override_password", "")
    reason = data.pop("override_reason", "")
    return KeyedOverride(username, password, reason) if username else None


class ReceiptScanInput(KeyedOverrideInput):
    scanned_data = serializers.CharField(max_length=80, allow_blank=True)


class ReceiveInput(KeyedOverrideInput):
    scanned_data = serializers.CharField(max_length=80, allow_blank=True)
    document_scan = serializers.CharField(max_length=80, required=False, default="", allow_blank=True)
    received_at = serializers.DateTimeField()
    temperature_c = serializers.DecimalField(max_digits=4, decimal_places=1)
    late_entry_reason = serializers.CharField(max_length=limits.REASON, required=False, default="", allow_blank=True)
    alert_reason = alert_reason_field()
    logger_model = serializers.CharField(max_length=80, required=False, default="", allow_blank=True)
    logger_file_name = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    logger_csv = serializers.CharField(
        max_length=LOGGER_FILE_MAX_CHARS,
        required=False,
        default="",
        allow_blank=True,
        trim_whitespace=False,
        help_text="The temperature logger's CSV export, as text.",
    )


def logger_file(data: dict[str, Any]) -> LoggerFile | None:
    """Take the logger fields out of ``data``: the uploaded file, when there is one."""
    model, name, text = data.pop("logger_model", ""), data.pop("logger_file_name", ""), data.pop("logger_csv", "")
    return LoggerFile(name or "logger.csv", text.encode(), model) if text else None


class DispatchInput(PasswordSerializer):
    to_location = serializers.CharField(max_length=120)
    from_location = serializers.CharField(max_length=120, required=False, default="", allow_blank=True)
    temperature_c = serializers.DecimalField(max_digits=4, decimal_places=1)
    alert_reason = alert_reason_field()
    shipper_code = serializers.CharField(max_length=40, required=False, default="", allow_blank=True)


class BedsideScans(KeyedOverrideInput):
    scanned_data = serializers.CharField(max_length=80, allow_blank=True)
    patient_subject_code = serializers.CharField(max_length=20, allow_blank=True)


class BedsideScanInput(PasswordSerializer, BedsideScans):
    """The first clinician's scans; signed now with the password, or later with the infusion they record."""

    password = password_field(
        "Your password, to sign the scan now; without it the scan is signed with the infusion you record.",
        required=False,
    )


class BedsideConfirmInput(PasswordSerializer, BedsideScans):
    """The second clinician scans the bag and the wristband again, independently, and signs."""


class InfusionInput(PasswordSerializer):
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField()
    left_cells = serializers.IntegerField(min_value=0, max_value=limits.BIGINT_MAX)
    left_volume_ml = serializers.DecimalField(max_digits=6, decimal_places=1, min_value=0)
    right_cells = serializers.IntegerField(min_value=0, max_value=limits.BIGINT_MAX)
    right_volume_ml = serializers.DecimalField(max_digits=6, decimal_places=1, min_value=0)
    notes = serializers.CharField(max_length=limits.NOTES, required=False, default="", allow_blank=True)
    late_entry_reason = serializers.CharField(max_length=limits.REASON, required=False, default="", allow_blank=True)
    alert_reason = alert_reason_field()


class CloseInput(PasswordSerializer):
    reason = serializers.CharField(max_length=limits.REASON, required=False, default="", allow_blank=True)


class ExpiredUseInput(PasswordSerializer):
    batch = serializers.IntegerField()
    deviation_reference = serializers.CharField(max_length=40)
    reason = serializers.CharField(max_length=limits.REASON)
    valid_until = serializers.DateTimeField()


class AdverseEventInput(serializers.Serializer[Any]):
    batch = serializers.IntegerField()
    phase = serializers.ChoiceField(choices=AdverseEventPhase.choices)
    term = serializers.CharField(max_length=120)
    ctcae_grade = serializers.IntegerField(min_value=1, max_value=5)
    relatedness = serializers.ChoiceField(choices=Relatedness.choices)
    serious = serializers.BooleanField(required=False, default=False)
    onset_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    notes = serializers.CharField(max_length=limits.NOTES, required=False, default="", allow_blank=True)


class FollowUpVisitInput(serializers.Serializer[Any]):
    batch = serializers.IntegerField()
    visit_date = serializers.DateField()
    menses = serializers.ChoiceField(choices=Menses.choices)
    endometrial_thickness_mm = serializers.DecimalField(
        max_digits=4, decimal_places=1, required=False, allow_null=True, default=None
    )
    adhesion_score = serializers.IntegerField(min_value=0, max_value=12, required=False, allow_null=True, default=None)
    notes = serializers.CharField(max_length=limits.NOTES, required=False, default="", allow_blank=True)


class EmbryoTransferInput(serializers.Serializer[Any]):
    batch = serializers.IntegerField()
    transfer_date = serializers.DateField()
    embryos_transferred = serializers.IntegerField(min_value=1, max_value=limits.SMALLINT_MAX, default=1)
    notes = serializers.CharField(max_length=limits.NOTES, required=False, default="", allow_blank=True)


class OutcomeInput(serializers.Serializer[Any]):
    implantation = serializers.BooleanField(allow_null=True)
    clinical_pregnancy = serializers.BooleanField(allow_null=True, required=False, default=None)
    live_birth = serializers.BooleanField(allow_null=True, required=False, default=None)
    reason = serializers.CharField(max_length=limits.REASON, required=False, default="", allow_blank=True)


def read_input(serializer_class: type[serializers.Serializer[Any]], request: Request) -> dict[str, Any]:
    """Validate the request body with ``serializer_class`` (400 with field messages when it does not fit)."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
