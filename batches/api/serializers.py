"""API serializers: they shape and parse JSON; every rule is checked by the service they feed."""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from batches.api.fields import username
from batches.api.step_serializers import (
    ApheresisCollectionSerializer,
    Cd133SelectionSerializer,
    GcsfAdministrationSerializer,
)
from batches.models import (
    Batch,
    BatchTransition,
    ElectronicSignature,
    Patient,
    ProcessDefinition,
)
from batches.selectors import batch_integrity_findings
from batches.signature_checks import signature_is_intact, signatures_intact
from qc.selectors import batch_alerts

# Context keys under which the batch detail hands what it computed once to its fields.
SIGNATURES_INTACT = "signatures_intact"
ALERTS = "batch_alerts"
FINDINGS = "integrity_findings"


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
