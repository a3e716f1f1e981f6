"""API representations of QC records, and the input of each QC action."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from batches import limits
from batches.api.fields import PasswordSerializer, scanned_codes  # one signing body for the whole API
from batches.models import BatchDisposition
from qc.models import Classification, Deviation, Notification, QcResult, QcSample, Specification, SpecificationLimit
from qc.models.specification import QcTestChoices


class LimitSerializer(serializers.ModelSerializer[SpecificationLimit]):
    description = serializers.SerializerMethodField()

    class Meta:
        model = SpecificationLimit
        fields = [
            "id",
            "test",
            "method",
            "operator",
            "value",
            "upper",
            "unit",
            "expected_result",
            "blocks_release",
            "description",
        ]

    def get_description(self, obj: SpecificationLimit) -> str:
        return obj.as_limit().describe()


class SpecificationSerializer(serializers.ModelSerializer[Specification]):
    limits = LimitSerializer(many=True, read_only=True)

    class Meta:
        model = Specification
        fields = [
            "id",
            "product",
            "version",
            "title",
            "status",
            "requested_effective_from",
            "effective_from",
            "max_collection_to_processing_hours",
            "created_by",
            "first_approved_by",
            "first_approved_at",
            "second_approved_by",
            "second_approved_at",
            "limits",
        ]
        read_only_fields = fields


class LimitInputSerializer(serializers.Serializer[Any]):
    test = serializers.ChoiceField(choices=QcTestChoices.choices)
    method = serializers.CharField(max_length=120)
    operator = serializers.ChoiceField(choices=["gte", "gt", "lte", "lt", "between"], required=False, allow_blank=True)
    value = serializers.DecimalField(max_digits=20, decimal_places=4, required=False, allow_null=True)
    upper = serializers.DecimalField(max_digits=20, decimal_places=4, required=False, allow_null=True)
    unit = serializers.CharField(max_length=20, required=False, allow_blank=True)
    expected_result = serializers.CharField(max_length=40, required=False, allow_blank=True)
    blocks_release = serializers.BooleanField(default=True)


class SpecificationInputSerializer(serializers.Serializer[Any]):
    product = serializers.CharField(max_length=20)
    title = serializers.CharField(max_length=200)
    requested_effective_from = serializers.DateTimeField()
    max_collection_to_processing_hours = serializers.IntegerField(min_value=1, max_value=240, default=24)
    limits = LimitInputSerializer(many=True, required=False, help_text="Omit to start from the defaults.")


class SampleSerializer(serializers.ModelSerializer[QcSample]):
    class Meta:
        model = QcSample
        fields = [
            "id",
            "batch",
            "step",
            "sample_code",
            "volume_ml",
            "taken_at",
            "taken_by",
            "recorded_at",
            "late_entry_reason",
        ]
        read_only_fields = ["id", "taken_by", "recorded_at"]


class ResultSerializer(serializers.ModelSerializer[QcResult]):
    value = serializers.SerializerMethodField(method_name="display_value")
    limit_description = serializers.SerializerMethodField()

    class Meta:
        model = QcResult
        fields = [
            "id",
            "batch",
            "sample",
            "test",
            "value",
            "unit",
            "method",
            "instrument",
            "analyst",
            "tested_at",
            "recorded_at",
            "verdict",
            "limit",
            "limit_description",
            "computed_from",
            "investigation",
            "recorded_after_release",
            "preliminary",
            "late_entry_reason",
            "verified_by",
            "verified_at",
        ]
        read_only_fields = fields

    def display_value(self, obj: QcResult) -> str:
        return str(obj.display_value)

    def get_limit_description(self, obj: QcResult) -> str:
        return obj.limit.as_limit().describe()


class ResultInputSerializer(PasswordSerializer):
    sample = serializers.IntegerField()
    test = serializers.ChoiceField(
        choices=QcTestChoices.choices, help_text="The viable CD133+ dose is calculated from viability, never entered."
    )
    value = serializers.CharField(max_length=40)
    unit = serializers.CharField(max_length=20, required=False, default="", allow_blank=True)
    method = serializers.CharField(max_length=120, required=False, default="", allow_blank=True)
    instrument = serializers.CharField(max_length=120, required=False, default="", allow_blank=True)
    equipment = scanned_codes(
        "Barcodes of the instruments used (checked: in service, calibrated on the day of the test).", most=10
    )
    tested_at = serializers.DateTimeField()
    investigation = serializers.IntegerField(required=False, allow_null=True, default=None)
    late_entry_reason = serializers.CharField(max_length=limits.REASON, required=False, default="", allow_blank=True)
    preliminary_reason = serializers.CharField(
        max_length=limits.REASON,
        required=False,
        default="",
        allow_blank=True,
        help_text="Records a result reported before its method's minimum duration as preliminary, with this reason.",
    )


class DeviationSerializer(serializers.ModelSerializer[Deviation]):
    class Meta:
        model = Deviation
        fields = [
            "id",
            "number",
            "batch",
            "kind",
            "classification",
            "description",
            "source_result",
            "raised_by",
            "raised_at",
            "raised_after_release",
            "investigation",
            "root_cause",
            "impact",
            "capa",
            "disposal",
            "status",
            "closure_summary",
            "closed_by",
            "closed_at",
        ]
        read_only_fields = fields


class DeviationInputSerializer(serializers.Serializer[Any]):
    batch = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["planned", "unplanned"])
    classification = serializers.ChoiceField(choices=Classification.choices)
    description = serializers.CharField(max_length=limits.DESCRIPTION)


class DeviationUpdateSerializer(serializers.Serializer[Any]):
    description = serializers.CharField(max_length=limits.DESCRIPTION, required=False)
    investigation = serializers.CharField(max_length=limits.NARRATIVE, required=False, allow_blank=True)
    root_cause = serializers.CharField(max_length=limits.NARRATIVE, required=False, allow_blank=True)
    impact = serializers.CharField(max_length=limits.NARRATIVE, required=False, allow_blank=True)
    capa = serializers.CharField(max_length=limits.NARRATIVE, required=False, allow_blank=True)
    disposal = serializers.CharField(max_length=limits.NARRATIVE, required=False, allow_blank=True)
    classification = serializers.ChoiceField(
        choices=Classification.choices, required=False, help_text="Refused here: reclassify (reason and signature)."
    )
    reason = serializers.CharField(max_length=limits.REASON, required=False, default="", allow_blank=True)


class DeviationCloseSerializer(PasswordSerializer):
    closure_summary = serializers.CharField(max_length=limits.NARRATIVE)


class NotificationSerializer(serializers.ModelSerializer[Notification]):
    class Meta:
        model = Notification
        fields = [
            "id",
            "batch",
            "deviation",
            "subject",
            "recipients",
            "status",
            "attempts",
            "last_error",
            "created_at",
            "last_attempt_at",
            "sent_at",
        ]
        read_only_fields = fields


class DispositionSerializer(serializers.ModelSerializer[BatchDisposition]):
    class Meta:
        model = BatchDisposition
        fields = [
            "id",
            "batch",
            "decision",
            "decided_by",
            "decided_at",
            "comment",
            "positive_result_plan",
            "pending_tests",
            "specification",
            "gate",
            "acknowledged",
            "references",
        ]
        read_only_fields = fields


class DecisionSerializer(PasswordSerializer):
    comment = serializers.CharField(max_length=limits.REASON, required=False, default="", allow_blank=True)


class ConditionalReleaseSerializer(DecisionSerializer):
    positive_result_plan = serializers.CharField(max_length=limits.DESCRIPTION)


class RejectSerializer(PasswordSerializer):
    reason = serializers.CharField(max_length=limits.REASON)


class FindingSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    message = serializers.CharField()
    blocking = serializers.BooleanField()


class BatchQcSerializer(serializers.Serializer[Any]):
    batch = serializers.CharField()
    status = serializers.CharField()
    flagged = serializers.BooleanField(help_text="A late result after release raised a critical deviation.")
    alerts = DeviationSerializer(many=True)
    specification = serializers.CharField(allow_null=True)
    blocking = FindingSerializer(many=True)
    exceptions = FindingSerializer(many=True)
    pending_tests = serializers.ListField(child=serializers.CharField())
    tests = serializers.ListField(child=serializers.DictField())
