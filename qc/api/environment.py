"""API of environmental monitoring results: QC reads a plate days later; an action-level count opens deviations."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from batches.api.inputs_serializers import MonitoringResultSerializer, MonitoringSampleSerializer
from batches.api.views import REFUSALS, CellBatchMixin
from batches.models import MonitoringSample
from batches.roles import Role
from batches.web import acting_user
from qc.services.environment import monitoring_result_record


class MonitoringResultAnswer(serializers.Serializer[Any]):
    sample = MonitoringSampleSerializer()
    deviations = serializers.ListField(child=serializers.CharField(), help_text="Numbers of the deviations opened.")


class MonitoringResultView(CellBatchMixin, GenericAPIView[MonitoringSample]):
    """POST the count of a settle plate, contact plate or air sample (QC analyst, signed)."""

    write_roles = {"post": (Role.QC_ANALYST,)}
    queryset = MonitoringSample.objects.all()
    serializer_class = MonitoringResultSerializer

    @extend_schema(
        summary="Record an environmental monitoring result (signed); an action-level count opens deviations",
        request=MonitoringResultSerializer,
        responses={200: MonitoringResultAnswer, **REFUSALS},
    )
    def post(self, request: Request, pk: int) -> Response:
        body = MonitoringResultSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        sample, opened = monitoring_result_record(
            actor=acting_user(request), sample_id=self.get_object().pk, **body.validated_data
        )
        return Response(
            MonitoringResultAnswer({"sample": sample, "deviations": [deviation.number for deviation in opened]}).data
        )
