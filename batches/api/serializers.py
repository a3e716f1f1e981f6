"""API serializers: they shape and parse JSON; every rule is checked by the service they feed."""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import User
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from batches import limits
from batches.master_limits import default_limits
from batches.master_limits import parse as parse_limits
from batches.models import (
    ApheresisCollection,
    Batch,
    BatchTransition,
    Cd133Selection,
    ElectronicSignature,
    GcsfAdministration,
    Patient,
    ProcessDefinition,
)
from batches.selectors import batch_integrity_findings
from batches.services.people import Transcription
from batches.services.steps import editable_fields
from batches.signature_checks import signature_is_intact, signatures_intact
from qc.selectors import batch_alerts

# Context keys under which the batch detail hands what it computed once to its fields.
SIGNATURES_INTACT = "signatures_intact"
ALERTS = "batch_alerts"
FINDINGS = "integrity_findings"

STEP_META_FIELDS = [
    "id",
    "batch",
    "performed_by",
    "performed_at",
    "corrected_by",
    "corrected_at",
    "verified_by",
    "verified_at",
    "is_verified",
]
CONTROL_FIELDS = ("password", "otp_token", "reason", "transcribed", "lots", "equipment")
REQUIRED_CONTROLS = ("password", "reason")  # of a correction; the one-time code is checked by the service


def username(source: str) -> serializers.CharField:
    return serializers.CharField(source=f"{source}.username", read_only=True, allow_null=True)


def one_time_code_field() -> serializers.CharField:
    return serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        default="",
        max_length=12,
        help_text=(
            "The 6-digit code of your authenticator app; required when you have enrolled one "
            "(GET /api/v1/auth/me/ says so), ignored otherwise."
        ),
    )


def scanned_codes(help_text: str, *, most: int = 30) -> serializers.ListField:
    """A list of scanned barcodes (lots, equipment), each at most 40 characters."""
    return serializers.ListField(
        child=serializers.CharField(max_length=40),
        max_length=most,
        required=False,
        default=list,
        write_only=True,
        help_text=help_text,
    )


def password_field(
    help_text: str = "Your password, re-entered to sign (21 CFR 11.200).", *, required: bool = True
) -> serializers.CharField:
    """The password re-entered to sign; ``required=False`` where the act may also be signed later."""
    optional: dict[str, Any] = {} if required else {"required": False, "default": "", "allow_blank": True}
    return serializers.CharField(
        write_only=True,
        trim_whitespace=False,
        max_length=limits.PASSWORD,
        style={"input_type": "password"},
        help_text=help_text,
        **optional,
    )


class PasswordSerializer(serializers.Serializer[Any]):
    """The body of every signed action: the password re-entered, and the one-time code when enrolled."""

    password = password_field()
    otp_token = one_time_code_field()


class ReasonSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(
        max_length=limits.REASON, help_text="Why (kept with the record and in the audit trail)."
    )


def alert_reason_field(**kwargs: Any) -> serializers.CharField:
    """Why a value in its alert range is accepted (batches.services.record_limits); blank when none is."""
    return serializers.CharField(
        max_length=limits.REASON,
        required=False,
        default="",
        allow_blank=True,
        help_text="Why a value in its alert range (process definition) is accepted; QA sees it as an exception.",
        **kwargs,
    )


class ErrorSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()


class TranscriptionSerializer(serializers.Serializer[Any]):
    """An entry written down from a source by someone who did not perform the work."""

    source_reference = serializers.CharField(max_length=limits.NAME, help_text="e.g. 'Ward 4 G-CSF log, page 12'.")
    performer_name = serializers.CharField(max_length=limits.NAME, required=False, default="")
    performer_staff_number = serializers.CharField(max_length=30, required=False, default="")
    performer = serializers.CharField(
        max_length=150, required=False, default="", help_text="User name of the performer, when they have an account."
    )

    def validate_performer(self, value: str) -> User | None:
        if not value:
            return None
        performer = User.objects.filter(username=value).first()
        if performer is None:
            raise serializers.ValidationError(f"No user {value!r}.")
        return performer

    @staticmethod
    def transcription(data: dict[str, Any]) -> Transcription:
        performer = data.get("performer")
        return Transcription(
            source_reference=data["source_reference"],
            performer_name=data.get("performer_name", ""),
            performer_staff_number=data.get("performer_staff_number", ""),
            performer_id=performer.pk if performer else None,
        )


class StepSerializer(serializers.ModelSerializer[Any]):
    """A step as stored; on input also the password that signs it (never echoed back)."""

    performed_by = username("performed_by")
    # Who changed the data last (null until a correction); performed_by still names the first recorder.
    corrected_by = username("corrected_by")
    verified_by = username("verified_by")
    is_verified = serializers.BooleanField(read_only=True)
    password = serializers.CharField(
        write_only=True, trim_whitespace=False, max_length=limits.PASSWORD, help_text="Re-entered to sign."
    )
    otp_token = one_time_code_field()
    transcribed = TranscriptionSerializer(
        write_only=True, required=False, help_text="When transcribed from a source: who performed it, and the source."
    )
    alert_reason = alert_reason_field(write_only=True)
    lots = scanned_codes("Barcodes of the material lots scanned for the step (recording only).")
    equipment = scanned_codes("Barcodes of the equipment scanned for the step (recording only).")

    class Meta:
        # Uniqueness (one G-CSF day, one collection) is the service's to refuse, with its own message.
        validators: list[Any] = []
        read_only_fields = STEP_META_FIELDS

    def values(self) -> dict[str, Any]:
        return {k: v for k, v in self.validated_data.items() if k not in CONTROL_FIELDS}

    def transcription(self) -> Transcription | None:
        data = self.validated_data.get("transcribed")
        return TranscriptionSerializer.transcription(data) if data else None

    def scans(self) -> dict[str, list[str]]:
        """The scanned lot and equipment barcodes, for the step service's guards."""
        return {name: list(self.validated_data.get(name, [])) for name in ("lots", "equipment")}


def step_fields(kind: str, *computed: str) -> list[str]:
    return [
        *STEP_META_FIELDS,
        *editable_fields(kind),
        *computed,
        "alert_reason",
        "password",
        "otp_token",
        "transcribed",
        "lots",
        "equipment",
    ]


def range_help(kind: str) -> dict[str, dict[str, str]]:
    """The schema's help text of each field with a limit: the default range (the batch's definition decides)."""
    limits = parse_limits(default_limits())
    return {
        name: {"help_text": f"{limit.help_text()} (default; the batch's process definition decides)"}
        for name in editable_fields(kind)
        if (limit := limits.parameter(f"{kind}.{name}")) is not None
    }


class GcsfAdministrationSerializer(StepSerializer):
    class Meta(StepSerializer.Meta):
        model = GcsfAdministration
        fields = step_fields("gcsf", "dose_ug")


class ApheresisCollectionSerializer(StepSerializer):
    class Meta(StepSerializer.Meta):
        model = ApheresisCollection
        fields = step_fields("apheresis")
        extra_kwargs = range_help("apheresis")


class Cd133SelectionSerializer(StepSerializer):
    class Meta(StepSerializer.Meta):
        model = Cd133Selection
        fields = step_fields("selection", "recovery_pct")
        extra_kwargs = range_help("selection")


STEP_SERIALIZERS: dict[str, type[StepSerializer]] = {
    "gcsf": GcsfAdministrationSerializer,
    "apheresis": ApheresisCollectionSerializer,
    "selection": Cd133SelectionSerializer,
}


def correction_serializer(kind: str) -> type[StepSerializer]:
    """The step's fields, all optional (only what changes), plus the reason and the password."""
    base = STEP_SERIALIZERS[kind]

    def validate(self: StepSerializer, attrs: dict[str, Any]) -> dict[str, Any]:
        missing = {name: "This field is required." for name in REQUIRED_CONTROLS if not attrs.get(name)}
        if missing:
            raise serializers.ValidationError(missing)
        return attrs

    attrs = {
        "reason": serializers.CharField(
            write_only=True, max_length=limits.REASON, help_text="Why the value changes (audit trail)."
        ),
        "validate": validate,
        "Meta": type("Meta", (base.Meta,), {"fields": [*base.Meta.fields, "reason"]}),
    }
    return type(f"{base.__name__[: -len('Serializer')]}CorrectionSerializer", (base,), attrs)


class SignatureSerializer(serializers.ModelSerializer[ElectronicSignature]):
    record = serializers.CharField(source="content_type.model", read_only=True)
    intact = serializers.SerializerMethodField(help_text="False when the signed record no longer has that content.")

    class Meta:
        model = ElectronicSignature
        fields = [
            "id",
            "record",
            "object_id",
            "printed_name",
            "meaning",
            "signed_at",
            "content_sha256",
            "status",
            "invalidated_at",
            "invalidated_reason",
            "intact",
        ]
        read_only_fields = fields

    def get_intact(self, obj: ElectronicSignature) -> bool:
        # The batch detail checks all its signatures at once (one query per record type).
        intact: dict[int, bool] | None = self.context.get(SIGNATURES_INTACT)
        if intact is not None and obj.pk in intact:
            return intact[obj.pk]
        return signature_is_intact(obj)


class TransitionSerializer(serializers.ModelSerializer[BatchTransition]):
    actor = username("actor")

    class Meta:
        model = BatchTransition
        fields = ["from_status", "to_status", "actor", "at", "reason"]
        read_only_fields = fields


class BatchSerializer(serializers.ModelSerializer[Batch]):
    subject_code = serializers.CharField(source="patient.subject_code", read_only=True)
    process_definition_version = serializers.CharField(source="process_definition.__str__", read_only=True)
    registered_by = username("registered_by")

    class Meta:
        model = Batch
        fields = [
            "id",
            "batch_number",
            "patient",
            "subject_code",
            "process_definition",
            "process_definition_version",
            "status",
            "status_changed_at",
            "din",
            "body_weight_kg",
            "registered_by",
            "registered_at",
            "end_of_processing_at",
            "cancel_reason",
        ]
        read_only_fields = fields


class LateResultAlertSerializer(serializers.Serializer[Any]):
    """A critical deviation raised by a result recorded after release (the batch's late-result flag)."""

    number = serializers.CharField()
    classification = serializers.CharField()
    status = serializers.CharField()
    description = serializers.CharField()
    raised_at = serializers.DateTimeField()


class IntegrityFindingSerializer(serializers.Serializer[Any]):
    verification = serializers.IntegerField(source="verification_id")
    detected_at = serializers.DateTimeField(source="verification.finished_at")
    kind = serializers.CharField()
    table = serializers.CharField()
    object_id = serializers.IntegerField(allow_null=True)
    problem = serializers.CharField()


class BatchDetailSerializer(BatchSerializer):
    """The batch with its late-result flag, every step in order, its signatures and its state history."""

    flagged = serializers.SerializerMethodField(
        help_text="True when a result recorded after release raised a critical deviation (late-result flag)."
    )
    late_result_alerts = serializers.SerializerMethodField(
        help_text="The deviations behind the late-result flag, newest first; empty when the batch is not flagged."
    )
    integrity_findings = serializers.SerializerMethodField(
        help_text="What audit-trail verification found broken in this batch's records (integrity alarm); "
        "empty when nothing was."
    )
    gcsf_administrations = GcsfAdministrationSerializer(many=True, read_only=True)
    apheresis = ApheresisCollectionSerializer(read_only=True, allow_null=True)
    selection = Cd133SelectionSerializer(read_only=True, allow_null=True)
    signatures = SignatureSerializer(many=True, read_only=True)
    transitions = TransitionSerializer(many=True, read_only=True)

    class Meta(BatchSerializer.Meta):
        fields = [
            *BatchSerializer.Meta.fields,
            "flagged",
            "late_result_alerts",
            "integrity_findings",
            "gcsf_administrations",
            "apheresis",
            "selection",
            "signatures",
            "transitions",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Batch) -> dict[str, Any]:
        # Computed once per batch, not once per field or per signature: the detail costs the same
        # number of queries whatever the number of steps and signatures.
        context = cast("dict[str, Any]", self.context)  # the root serializer's own dict
        context[ALERTS] = list(batch_alerts(instance))
        context[FINDINGS] = batch_integrity_findings(instance)
        context[SIGNATURES_INTACT] = signatures_intact(instance, instance.signatures.all())
        return super().to_representation(instance)

    def alerts(self, obj: Batch) -> list[Any]:
        alerts = self.context.get(ALERTS)
        return list(batch_alerts(obj)) if alerts is None else alerts

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_flagged(self, obj: Batch) -> bool:
        return bool(self.alerts(obj))

    @extend_schema_field(LateResultAlertSerializer(many=True))
    def get_late_result_alerts(self, obj: Batch) -> list[dict[str, Any]]:
        return list(LateResultAlertSerializer(self.alerts(obj), many=True).data)

    @extend_schema_field(IntegrityFindingSerializer(many=True))
    def get_integrity_findings(self, obj: Batch) -> list[dict[str, Any]]:
        findings = self.context.get(FINDINGS)
        found = batch_integrity_findings(obj) if findings is None else findings
        return list(IntegrityFindingSerializer(found, many=True).data)


class BatchRegisterSerializer(serializers.Serializer[Any]):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    process_definition = serializers.PrimaryKeyRelatedField(queryset=ProcessDefinition.objects.all())


class PatientSerializer(serializers.ModelSerializer[Patient]):
    enrolled_by = username("enrolled_by")

    class Meta:
        model = Patient
        fields = ["id", "subject_code", "consent_date", "body_weight_kg", "eligibility_confirmed"]
        fields += ["enrolled_by", "enrolled_at"]
        read_only_fields = ["enrolled_at"]
        # Eligibility is a statement the enrolling user makes, never a default the API assumes.
        extra_kwargs = {"eligibility_confirmed": {"required": True}}


class ProcessDefinitionSerializer(serializers.ModelSerializer[ProcessDefinition]):
    created_by = username("created_by")
    first_approved_by = username("first_approved_by")
    second_approved_by = username("second_approved_by")

    class Meta:
        model = ProcessDefinition
        fields = [f.name for f in ProcessDefinition._meta.concrete_fields]
        read_only_fields = [
            "id",
            "version",
            "status",
            "effective_from",
            "created_at",
            "first_approved_at",
            "second_approved_at",
        ]
        validators: list[Any] = []
