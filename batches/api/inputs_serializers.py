"""Serializers of the material master, lots, the equipment register, line clearances and monitoring."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from rest_framework import serializers

from batches import limits
from batches.api.fields import PasswordSerializer, one_time_code_field, username
from batches.models import (
    Equipment,
    EquipmentRecord,
    EquipmentUse,
    LineClearance,
    LotUse,
    Material,
    MaterialLot,
    MonitoringSample,
    MonitoringSession,
    StepEquipmentRequirement,
    StepMaterialRequirement,
)
from batches.services.materials import CERTIFICATE_MAX_BYTES


class MaterialSerializer(serializers.ModelSerializer[Material]):
    created_by = username("created_by")

    class Meta:
        model = Material
        fields = [
            "id",
            "code",
            "name",
            "category",
            "grade",
            "supplier",
            "storage_condition",
            "unit",
            "specification",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["id", "created_by", "created_at"]


class MaterialLotSerializer(serializers.ModelSerializer[MaterialLot]):
    material_code = serializers.CharField(source="material.code", read_only=True)
    grade = serializers.CharField(source="material.grade", read_only=True)
    received_by = username("received_by")
    status_changed_by = username("status_changed_by")

    class Meta:
        model = MaterialLot
        fields = [
            "id",
            "code",
            "material",
            "material_code",
            "grade",
            "supplier_lot",
            "expiry_date",
            "quantity_received",
            "certificate_name",
            "certificate_sha256",
            "status",
            "status_reason",
            "status_changed_by",
            "status_changed_at",
            "received_by",
            "received_at",
        ]
        read_only_fields = fields


class LotReceiveSerializer(serializers.Serializer[Any]):
    material = serializers.PrimaryKeyRelatedField(queryset=Material.objects.all())
    code = serializers.CharField(max_length=40)
    supplier_lot = serializers.CharField(max_length=40)
    expiry_date = serializers.DateField()
    quantity = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0)
    certificate_name = serializers.CharField(max_length=limits.NAME)
    certificate_type = serializers.ChoiceField(choices=["application/pdf", "image/png", "image/jpeg"])
    certificate_base64 = serializers.CharField(
        max_length=CERTIFICATE_MAX_BYTES * 4 // 3 + 4, help_text="The certificate of analysis, base64-encoded."
    )

    def validate_certificate_base64(self, value: str) -> bytes:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise serializers.ValidationError("Not valid base64.") from None


class LotStatusSerializer(PasswordSerializer):
    status = serializers.ChoiceField(choices=["released", "rejected", "expired", "recalled"])
    reason = serializers.CharField(max_length=limits.REASON, required=False, allow_blank=True, default="")


class RecallUseSerializer(serializers.Serializer[Any]):
    batch_id = serializers.IntegerField()
    batch_number = serializers.CharField()
    batch_status = serializers.CharField()
    subject_code = serializers.CharField()
    step_kind = serializers.CharField()
    used_at = serializers.DateTimeField()
    quantity = serializers.CharField()


class RecallSerializer(serializers.Serializer[Any]):
    lot = MaterialLotSerializer()
    uses = RecallUseSerializer(many=True)


class EquipmentSerializer(serializers.ModelSerializer[Equipment]):
    class Meta:
        model = Equipment
        fields = [
            "id",
            "code",
            "name",
            "kind",
            "serial_number",
            "location",
            "status",
            "calibration_due",
            "maintenance_due",
            "area_grade",
        ]
        read_only_fields = ["id", "status"]


class EquipmentRecordSerializer(serializers.ModelSerializer[EquipmentRecord]):
    recorded_by = username("recorded_by")
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=limits.PASSWORD)
    otp_token = one_time_code_field()

    class Meta:
        model = EquipmentRecord
        fields = [
            "id",
            "equipment",
            "kind",
            "performed_on",
            "outcome",
            "next_due",
            "certificate_reference",
            "notes",
            "recorded_by",
            "recorded_at",
            "password",
            "otp_token",
        ]
        read_only_fields = ["id", "equipment", "recorded_by", "recorded_at"]


class EquipmentStatusSerializer(PasswordSerializer):
    status = serializers.ChoiceField(choices=["in_service", "out_of_service", "quarantined"])
    reason = serializers.CharField(max_length=limits.REASON)


class EquipmentUseSerializer(serializers.ModelSerializer[EquipmentUse]):
    equipment_code = serializers.CharField(source="equipment.code", read_only=True)
    batch_number = serializers.CharField(source="batch.batch_number", read_only=True)
    subject_code = serializers.CharField(source="batch.patient.subject_code", read_only=True)

    class Meta:
        model = EquipmentUse
        fields = [
            "id",
            "equipment_code",
            "batch",
            "batch_number",
            "subject_code",
            "step_kind",
            "used_from",
            "used_until",
            "status_at_use",
            "calibration_due_at_use",
            "maintenance_due_at_use",
        ]
        read_only_fields = fields


class LotUseSerializer(serializers.ModelSerializer[LotUse]):
    lot_code = serializers.CharField(source="lot.code", read_only=True)

    class Meta:
        model = LotUse
        fields = [
            "id",
            "lot_code",
            "step_kind",
            "material_code",
            "material_name",
            "grade",
            "supplier_lot",
            "expiry_date",
            "status_at_use",
            "quantity",
            "used_at",
        ]
        read_only_fields = fields


class BatchInputsSerializer(serializers.Serializer[Any]):
    lots = LotUseSerializer(many=True)
    equipment = EquipmentUseSerializer(many=True)


class LineClearanceSerializer(serializers.ModelSerializer[LineClearance]):
    performed_by = username("performed_by")
    verified_by = username("verified_by")
    previous_batch_number = serializers.CharField(source="previous_batch.batch_number", read_only=True, default=None)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=limits.PASSWORD)
    otp_token = one_time_code_field()
    late_entry_reason = serializers.CharField(
        write_only=True, required=False, allow_blank=True, default="", max_length=limits.REASON
    )

    class Meta:
        model = LineClearance
        fields = [
            "id",
            "workstation",
            "previous_batch_number",
            "performed_at",
            "product_removed",
            "surfaces_cleaned",
            "notes",
            "performed_by",
            "verified_by",
            "verified_at",
            "password",
            "otp_token",
            "late_entry_reason",
        ]
        read_only_fields = ["id", "previous_batch_number", "performed_by", "verified_by", "verified_at"]


class SampleSpecSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=["settle", "contact", "air"])
    sample_code = serializers.CharField(max_length=40)
    location = serializers.CharField(max_length=limits.NAME, required=False, allow_blank=True, default="")


class MonitoringSampleSerializer(serializers.ModelSerializer[MonitoringSample]):
    read_by = username("read_by")

    class Meta:
        model = MonitoringSample
        fields = ["id", "kind", "sample_code", "location", "cfu", "level", "read_at", "read_by"]
        read_only_fields = fields


class MonitoringSessionSerializer(serializers.ModelSerializer[MonitoringSession]):
    samples = MonitoringSampleSerializer(many=True, read_only=True)
    opened_by = username("opened_by")
    closed_by = username("closed_by")

    class Meta:
        model = MonitoringSession
        fields = ["id", "workstation", "opened_at", "opened_by", "closed_at", "closed_by", "samples"]
        read_only_fields = fields


class SessionOpenSerializer(serializers.Serializer[Any]):
    workstation = serializers.PrimaryKeyRelatedField(queryset=Equipment.objects.all())
    opened_at = serializers.DateTimeField()
    samples = serializers.ListField(child=SampleSpecSerializer(), max_length=30)


class SessionCloseSerializer(serializers.Serializer[Any]):
    closed_at = serializers.DateTimeField()
    samples = serializers.ListField(child=SampleSpecSerializer(), max_length=30, required=False, default=list)


class MonitoringResultSerializer(PasswordSerializer):
    cfu = serializers.IntegerField(min_value=0, max_value=100_000)
    read_at = serializers.DateTimeField()
    late_entry_reason = serializers.CharField(max_length=limits.REASON, required=False, allow_blank=True, default="")


def sample_specs(items: list[dict[str, str]]) -> list[tuple[str, str, str]]:
    return [(item["kind"], item["sample_code"], item.get("location", "")) for item in items]


class MaterialRequirementSerializer(serializers.ModelSerializer[StepMaterialRequirement]):
    class Meta:
        model = StepMaterialRequirement
        fields = ["id", "process_definition", "step_kind", "category", "grade", "quantity", "unit"]
        read_only_fields = ["id", "process_definition"]
        validators: list[Any] = []


class EquipmentRequirementSerializer(serializers.ModelSerializer[StepEquipmentRequirement]):
    class Meta:
        model = StepEquipmentRequirement
        fields = ["id", "process_definition", "step_kind", "kind"]
        read_only_fields = ["id", "process_definition"]
        validators: list[Any] = []


class DefinitionRequirementsSerializer(serializers.Serializer[Any]):
    materials = MaterialRequirementSerializer(many=True)
    equipment = EquipmentRequirementSerializer(many=True)
