"""QC API: every change is a call to a service; reads are open to every GMP role (auditors included)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from batches.models import Batch
from batches.release import disposition
from batches.roles import has_role
from batches.services.actions import StateAction
from batches.web import READ_ROLES, acting_user
from qc.api import serializers as s
from qc.models import Deviation, Notification, QcResult, QcSample, Specification
from qc.selectors import batch_alerts, release_gate
from qc.services import deviations, specifications
from qc.services.testing import qc_result_record, qc_result_review, qc_sample_record


class HasGmpRole(BasePermission):
    """Any CellBatch role may read; each service checks the role that may write."""

    message = "A CellBatch role is required."

    def has_permission(self, request: Request, view: Any) -> bool:
        return has_role(request.user, *READ_ROLES)


class NumericIds:
    """Record ids are numbers: anything else in the URL is an unknown address (404), never a query."""

    lookup_value_regex = "[0-9]+"


def _input(serializer_class: type[Any], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class SpecificationViewSet(NumericIds, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Specification.objects.prefetch_related("limits")
    serializer_class = s.SpecificationSerializer
    permission_classes = [HasGmpRole]
    filterset_fields = ["product", "status"]

    @extend_schema(request=s.SpecificationInputSerializer, responses={201: s.SpecificationSerializer})
    def create(self, request: Request) -> Response:
        data = _input(s.SpecificationInputSerializer, request)
        limits = [dict(row) for row in data.pop("limits")] if "limits" in data else None
        spec = specifications.specification_create(actor=acting_user(request), limits=limits, **data)
        return Response(s.SpecificationSerializer(spec).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.PasswordSerializer, responses=s.SpecificationSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        data = _input(s.PasswordSerializer, request)
        spec = specifications.specification_approve(specification_id=int(pk), approver=acting_user(request), **data)
        return Response(s.SpecificationSerializer(spec).data)


class SampleViewSet(NumericIds, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = QcSample.objects.all()
    serializer_class = s.SampleSerializer
    permission_classes = [HasGmpRole]
    filterset_fields = ["batch", "step"]

    def create(self, request: Request) -> Response:
        data = _input(s.SampleSerializer, request)
        sample = qc_sample_record(
            actor=acting_user(request),
            batch_id=data["batch"].pk,
            step=data["step"],
            sample_code=data["sample_code"],
            taken_at=data["taken_at"],
            late_entry_reason=data.get("late_entry_reason", ""),
            volume_ml=data.get("volume_ml", 0),
        )
        return Response(s.SampleSerializer(sample).data, status=status.HTTP_201_CREATED)


class ResultViewSet(NumericIds, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = QcResult.objects.select_related("limit")
    serializer_class = s.ResultSerializer
    permission_classes = [HasGmpRole]
    filterset_fields = ["batch", "test", "verdict", "recorded_after_release"]

    @extend_schema(request=s.ResultInputSerializer, responses={201: s.ResultSerializer})
    def create(self, request: Request) -> Response:
        data = _input(s.ResultInputSerializer, request)
        result = qc_result_record(
            actor=acting_user(request),
            sample_id=data.pop("sample"),
            investigation_id=data.pop("investigation"),
            **data,
        )
        return Response(s.ResultSerializer(result).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.PasswordSerializer, responses=s.ResultSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request: Request, pk: str) -> Response:
        data = _input(s.PasswordSerializer, request)
        result = qc_result_review(reviewer=acting_user(request), result_id=int(pk), **data)
        return Response(s.ResultSerializer(result).data)


class DeviationViewSet(NumericIds, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Deviation.objects.all()
    serializer_class = s.DeviationSerializer
    permission_classes = [HasGmpRole]
    filterset_fields = ["batch", "status", "classification", "kind", "raised_after_release"]

    @extend_schema(request=s.DeviationInputSerializer, responses={201: s.DeviationSerializer})
    def create(self, request: Request) -> Response:
        data = _input(s.DeviationInputSerializer, request)
        deviation = deviations.deviation_open(actor=acting_user(request), batch_id=data.pop("batch"), **data)
        return Response(s.DeviationSerializer(deviation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.DeviationUpdateSerializer, responses=s.DeviationSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        data = _input(s.DeviationUpdateSerializer, request)
        reason = data.pop("reason", "")
        deviation = deviations.deviation_update(
            actor=acting_user(request), deviation_id=int(pk), values=data, reason=reason
        )
        return Response(s.DeviationSerializer(deviation).data)

    @extend_schema(request=s.DeviationCloseSerializer, responses=s.DeviationSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        data = _input(s.DeviationCloseSerializer, request)
        deviation = deviations.deviation_close(actor=acting_user(request), deviation_id=int(pk), **data)
        return Response(s.DeviationSerializer(deviation).data)


class NotificationViewSet(NumericIds, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Notification.objects.all()
    serializer_class = s.NotificationSerializer
    permission_classes = [HasGmpRole]
    filterset_fields = ["batch", "status"]


def _batch(pk: int) -> Batch:
    batch = Batch.objects.select_related("process_definition").filter(pk=pk).first()
    if batch is None:
        raise NotFound(f"No batch {pk}.")
    return batch


class BatchQcView(NumericIds, APIView):
    """The release gate of a batch and its late-result flag."""

    permission_classes = [HasGmpRole]

    @extend_schema(responses=s.BatchQcSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(batch_qc_body(_batch(pk)))


def batch_qc_body(batch: Batch) -> dict[str, Any]:
    """The release gate of a batch, its state and its late-result flag (the answer of batches/{id}/qc/)."""
    gate = release_gate(batch)
    alerts = batch_alerts(batch)
    return {
        **gate.as_dict(),
        "status": batch.status,
        "flagged": bool(alerts),
        "alerts": s.DeviationSerializer(alerts, many=True).data,
    }


class DecisionView(NumericIds, APIView):
    """POST a disposition: release, release-conditionally, reject or certify (password re-entered)."""

    permission_classes = [HasGmpRole]
    input_serializer: type[Any] = s.DecisionSerializer
    declared: StateAction = disposition.RELEASE

    def post(self, request: Request, pk: int) -> Response:
        batch = _batch(pk)
        data = _input(self.input_serializer, request)
        decided = self.declared.service(actor=acting_user(request), batch_id=batch.pk, **data)
        return Response(s.DispositionSerializer(decided).data, status=status.HTTP_201_CREATED)


class ReleaseView(DecisionView):
    declared = disposition.RELEASE

    @extend_schema(request=s.DecisionSerializer, responses={201: s.DispositionSerializer})
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class ConditionalReleaseView(DecisionView):
    declared = disposition.RELEASE_CONDITIONALLY
    input_serializer = s.ConditionalReleaseSerializer

    @extend_schema(request=s.ConditionalReleaseSerializer, responses={201: s.DispositionSerializer})
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class RejectView(DecisionView):
    declared = disposition.REJECT
    input_serializer = s.RejectSerializer

    @extend_schema(request=s.RejectSerializer, responses={201: s.DispositionSerializer})
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class CertifyView(DecisionView):
    declared = disposition.CERTIFY

    @extend_schema(request=s.DecisionSerializer, responses={201: s.DispositionSerializer})
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)
