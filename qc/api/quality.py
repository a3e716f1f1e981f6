"""API of the quality decisions: OOS investigations, reclassification, reportability, and the conditional
release's signatures, follow-up and final certification. Every write calls one service; reads are open to
every CellBatch role.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from batches import limits
from batches.api.fields import PasswordSerializer
from batches.release import conditional
from batches.services.actions import StateAction
from batches.web import acting_user
from qc.api import serializers as s
from qc.api.views import HasGmpRole, NumericIds, _batch, _input, batch_qc_body
from qc.models import Classification, OosInvestigation, PlanKind, ReportabilityAssessment
from qc.services import deviations, investigations, reportability


class InvestigationSerializer(serializers.ModelSerializer[OosInvestigation]):
    class Meta:
        model = OosInvestigation
        fields = [
            "id",
            "deviation",
            "result",
            "batch",
            "opened_at",
            "phase",
            "hypotheses",
            "laboratory_error",
            "assignable_cause",
            "conclusion",
            "status",
            "closed_by",
            "closed_at",
        ]
        read_only_fields = fields


class InvestigationRecordSerializer(serializers.Serializer[Any]):
    hypotheses = serializers.CharField(max_length=limits.NARRATIVE, required=False)
    laboratory_error = serializers.BooleanField(required=False, allow_null=True, default=None)
    assignable_cause = serializers.CharField(max_length=limits.NARRATIVE, required=False)
    conclusion = serializers.CharField(max_length=limits.NARRATIVE, required=False)
    reason = serializers.CharField(max_length=limits.REASON, required=False, default="", allow_blank=True)


class RetestApprovalSerializer(PasswordSerializer):
    kind = serializers.ChoiceField(choices=PlanKind.choices)
    plan = serializers.CharField(max_length=limits.DESCRIPTION)


class ReclassifySerializer(PasswordSerializer):
    classification = serializers.ChoiceField(choices=Classification.choices)
    reason = serializers.CharField(max_length=limits.REASON)


class ReportabilitySerializer(serializers.ModelSerializer[ReportabilityAssessment]):
    class Meta:
        model = ReportabilityAssessment
        fields = [
            "id",
            "deviation",
            "batch",
            "opened_at",
            "due_date",
            "status",
            "reportable",
            "rule",
            "rationale",
            "assessed_by",
            "assessed_at",
            "submitted_at",
            "submission_reference",
        ]
        read_only_fields = fields


class AssessSerializer(serializers.Serializer[Any]):
    reportable = serializers.BooleanField()
    rule = serializers.CharField(max_length=limits.NAME)
    rationale = serializers.CharField(max_length=limits.REASON)
    due_date = serializers.DateField(required=False, allow_null=True, default=None)


class SubmitSerializer(serializers.Serializer[Any]):
    submitted_at = serializers.DateTimeField()
    reference = serializers.CharField(max_length=limits.NAME)


class FollowUpCloseSerializer(PasswordSerializer):
    reason = serializers.CharField(max_length=limits.DESCRIPTION, help_text="QA's assessment of the results.")


class InvestigationViewSet(NumericIds, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = OosInvestigation.objects.all()
    serializer_class = InvestigationSerializer
    permission_classes = [HasGmpRole]
    filterset_fields = ["batch", "status", "phase"]

    @extend_schema(request=InvestigationRecordSerializer, responses=InvestigationSerializer)
    @action(detail=True, methods=["post"])
    def record(self, request: Request, pk: str) -> Response:
        data = _input(InvestigationRecordSerializer, request)
        found = investigations.investigation_record(actor=acting_user(request), investigation_id=int(pk), **data)
        return Response(InvestigationSerializer(found).data)

    @extend_schema(request=RetestApprovalSerializer, responses={201: InvestigationSerializer})
    @action(detail=True, methods=["post"], url_path="approve-retest")
    def approve_retest(self, request: Request, pk: str) -> Response:
        data = _input(RetestApprovalSerializer, request)
        approval = investigations.retest_approve(actor=acting_user(request), investigation_id=int(pk), **data)
        return Response(InvestigationSerializer(approval.investigation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PasswordSerializer, responses=InvestigationSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        data = _input(PasswordSerializer, request)
        found = investigations.investigation_close(actor=acting_user(request), investigation_id=int(pk), **data)
        return Response(InvestigationSerializer(found).data)


class ReportabilityViewSet(NumericIds, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = ReportabilityAssessment.objects.all()
    serializer_class = ReportabilitySerializer
    permission_classes = [HasGmpRole]
    filterset_fields = ["batch", "status"]

    @extend_schema(request=AssessSerializer, responses=ReportabilitySerializer)
    @action(detail=True, methods=["post"])
    def assess(self, request: Request, pk: str) -> Response:
        data = _input(AssessSerializer, request)
        found = reportability.reportability_assess(actor=acting_user(request), assessment_id=int(pk), **data)
        return Response(ReportabilitySerializer(found).data)

    @extend_schema(request=SubmitSerializer, responses=ReportabilitySerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str) -> Response:
        data = _input(SubmitSerializer, request)
        found = reportability.reportability_submit(actor=acting_user(request), assessment_id=int(pk), **data)
        return Response(ReportabilitySerializer(found).data)


class ReclassifyView(NumericIds, APIView):
    """QA reclassifies a deviation with a reason and a signature (release-critical)."""

    permission_classes = [HasGmpRole]

    @extend_schema(request=ReclassifySerializer, responses={201: s.DeviationSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = _input(ReclassifySerializer, request)
        change = deviations.deviation_reclassify(actor=acting_user(request), deviation_id=pk, **data)
        return Response(s.DeviationSerializer(change.deviation).data, status=status.HTTP_201_CREATED)


class ConditionalActionView(NumericIds, APIView):
    """A signed action on a conditionally released batch (its declared action's service)."""

    permission_classes = [HasGmpRole]
    declared: StateAction = conditional.AUTHORISE
    input_serializer: type[Any] = PasswordSerializer

    def post(self, request: Request, pk: int) -> Response:
        batch = _batch(pk)
        data = _input(self.input_serializer, request)
        self.declared.service(actor=acting_user(request), batch_id=batch.pk, **data)
        return Response(batch_qc_body(_batch(pk)))


class AuthoriseView(ConditionalActionView):
    declared = conditional.AUTHORISE

    @extend_schema(request=PasswordSerializer, responses=s.BatchQcSerializer)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class AcknowledgeView(ConditionalActionView):
    declared = conditional.ACKNOWLEDGE

    @extend_schema(request=PasswordSerializer, responses=s.BatchQcSerializer)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class FollowUpCloseView(ConditionalActionView):
    declared = conditional.CLOSE_FOLLOW_UP
    input_serializer = FollowUpCloseSerializer

    @extend_schema(request=FollowUpCloseSerializer, responses=s.BatchQcSerializer)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class CertifyFinalView(ConditionalActionView):
    declared = conditional.CERTIFY_FINAL
    input_serializer = s.DecisionSerializer

    @extend_schema(request=s.DecisionSerializer, responses=s.BatchQcSerializer)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)
