"""Storage monitoring through the API: a monitoring system pushes readings; alarms are read and acknowledged."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from batches import limits
from batches.api.custody_serializers import read_input
from batches.api.permissions import RolePermission
from batches.models import StorageExcursion
from batches.roles import Role
from batches.services import storage
from batches.web import acting_user


class ReadingInput(serializers.Serializer[Any]):
    measured_at = serializers.DateTimeField()
    temperature_c = serializers.DecimalField(max_digits=5, decimal_places=1, min_value=-200, max_value=100)


class ReadingsInput(serializers.Serializer[Any]):
    equipment = serializers.CharField(max_length=40, help_text="The unit's code in the equipment register.")
    readings = serializers.ListField(child=ReadingInput(), allow_empty=False, max_length=storage.MAX_PUSH)


class AcknowledgeInput(serializers.Serializer[Any]):
    note = serializers.CharField(max_length=limits.NOTES, help_text="What was done.")


class StorageExcursionSerializer(serializers.ModelSerializer[StorageExcursion]):
    equipment = serializers.CharField(source="monitor.equipment.code", read_only=True)

    class Meta:
        model = StorageExcursion
        fields = "__all__"


class StorageReadingsView(APIView):
    """``POST /api/v1/storage-readings/``: one unit's readings from the monitoring system."""

    permission_classes = [RolePermission]
    write_roles = {"post": storage.PUSH_ROLES}

    @extend_schema(request=ReadingsInput, responses={201: OpenApiResponse(description="How many were stored.")})
    def post(self, request: Request) -> Response:
        data = read_input(ReadingsInput, request)
        stored = storage.storage_readings_push(
            actor=acting_user(request),
            equipment_code=data["equipment"],
            readings=[(r["measured_at"], r["temperature_c"]) for r in data["readings"]],
        )
        return Response({"stored": stored}, status=status.HTTP_201_CREATED)


class StorageExcursionViewSet(viewsets.ReadOnlyModelViewSet[StorageExcursion]):
    """Storage alarms; the responsible person or QA acknowledges one with what was done."""

    queryset = StorageExcursion.objects.select_related("monitor__equipment").order_by("-started_at", "pk")
    serializer_class = StorageExcursionSerializer
    permission_classes = [RolePermission]
    write_roles = {"acknowledge": (Role.OPERATOR, Role.QC_ANALYST, Role.VERIFIER, Role.QA_REVIEWER)}

    @extend_schema(request=AcknowledgeInput, responses={200: StorageExcursionSerializer})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str) -> Response:
        excursion = self.get_object()
        note = read_input(AcknowledgeInput, request)["note"]
        done = storage.storage_excursion_acknowledge(actor=acting_user(request), excursion_id=excursion.pk, note=note)
        return Response(StorageExcursionSerializer(done).data)
