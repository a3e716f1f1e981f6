"""API of the material master, lots, the equipment register, line clearances and monitoring sessions.

Master data is written by the materials-and-equipment role; QA decides lot and equipment statuses and
verifies line clearances (signed); operators record clearances and monitoring sessions. Every write calls
one service, which checks the role again.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import filters, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from batches.api.fields import PasswordSerializer
from batches.api.inputs_serializers import (
    BatchInputsSerializer,
    DefinitionRequirementsSerializer,
    EquipmentRecordSerializer,
    EquipmentRequirementSerializer,
    EquipmentSerializer,
    EquipmentStatusSerializer,
    EquipmentUseSerializer,
    LineClearanceSerializer,
    LotReceiveSerializer,
    LotStatusSerializer,
    MaterialLotSerializer,
    MaterialRequirementSerializer,
    MaterialSerializer,
    MonitoringSessionSerializer,
    RecallSerializer,
    SessionCloseSerializer,
    SessionOpenSerializer,
    sample_specs,
)
from batches.api.views import REFUSALS, CellBatchMixin
from batches.models import Batch, Equipment, LineClearance, Material, MaterialLot, MonitoringSession, ProcessDefinition
from batches.roles import Role
from batches.services import equipment as equipment_services
from batches.services import materials, workstations
from batches.services.materials import DEFINITION_ROLES, KEEPER_ROLES
from batches.usage import batch_equipment_uses, batch_lot_uses, equipment_log, lot_recall
from batches.web import acting_user

QA = (Role.QA_REVIEWER,)


@extend_schema_view(
    create=extend_schema(summary="Add a material to the master", responses={201: MaterialSerializer, **REFUSALS})
)
class MaterialViewSet(
    CellBatchMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[Material],
):
    write_roles = {"create": KEEPER_ROLES}
    queryset = Material.objects.select_related("created_by")
    serializer_class = MaterialSerializer
    filterset_fields = ["grade", "category"]
    filter_backends = [filters.SearchFilter]
    search_fields = ["code", "name"]

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = materials.material_create(
            actor=acting_user(self.request), values=dict(serializer.validated_data)
        )


@extend_schema_view(
    create=extend_schema(
        summary="Receive a lot into quarantine (certificate of analysis attached)",
        request=LotReceiveSerializer,
        responses={201: MaterialLotSerializer, **REFUSALS},
    )
)
class MaterialLotViewSet(
    CellBatchMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[MaterialLot],
):
    write_roles = {"create": KEEPER_ROLES, "decide": QA}
    queryset = MaterialLot.objects.select_related("material", "received_by", "status_changed_by")
    serializer_class = MaterialLotSerializer
    filter_backends = [filters.SearchFilter]
    search_fields = ["code", "supplier_lot", "material__code"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = LotReceiveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        lot = materials.lot_receive(
            actor=acting_user(request),
            material_id=data["material"].pk,
            code=data["code"],
            supplier_lot=data["supplier_lot"],
            expiry_date=data["expiry_date"],
            quantity=data["quantity"],
            certificate_name=data["certificate_name"],
            certificate=data["certificate_base64"],
            certificate_type=data["certificate_type"],
        )
        return Response(MaterialLotSerializer(lot).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="QA's decision on a lot: release, reject, expire or recall (signed)",
        request=LotStatusSerializer,
        responses={200: MaterialLotSerializer, **REFUSALS},
    )
    @action(detail=True, methods=["post"])
    def decide(self, request: Request, pk: str | None = None) -> Response:
        body = LotStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        lot = materials.lot_status_set(
            actor=acting_user(request),
            lot_id=self.get_object().pk,
            status=data["status"],
            reason=data["reason"],
            password=data["password"],
            otp_token=data["otp_token"],
        )
        return Response(MaterialLotSerializer(lot).data)

    @extend_schema(summary="Recall: every batch and patient that received this lot", responses={200: RecallSerializer})
    @action(detail=True, methods=["get"])
    def recall(self, request: Request, pk: str | None = None) -> Response:
        lot = self.get_object()
        return Response(RecallSerializer({"lot": lot, "uses": lot_recall(lot)}).data)

    @extend_schema(
        summary="The certificate of analysis as received",
        responses={200: OpenApiResponse(OpenApiTypes.BINARY, description="The file; X-SHA256 names its hash.")},
    )
    @action(detail=True, methods=["get"])
    def certificate(self, request: Request, pk: str | None = None) -> HttpResponse:
        lot = self.get_object()
        kept = lot.certificate
        response = HttpResponse(bytes(kept.content), content_type=kept.content_type)
        response["Content-Disposition"] = f'attachment; filename="{lot.code}-certificate"'
        response["X-SHA256"] = lot.certificate_sha256
        return response


@extend_schema_view(
    create=extend_schema(summary="Register an item of equipment", responses={201: EquipmentSerializer, **REFUSALS})
)
class EquipmentViewSet(
    CellBatchMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[Equipment],
):
    write_roles = {"create": KEEPER_ROLES, "records": KEEPER_ROLES, "decide": QA}
    queryset = Equipment.objects.all()
    serializer_class = EquipmentSerializer
    filter_backends = [filters.SearchFilter]
    search_fields = ["code", "name", "serial_number"]

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = equipment_services.equipment_register(
            actor=acting_user(self.request), values=dict(serializer.validated_data)
        )

    @extend_schema(
        summary="Record a calibration or maintenance (signed)",
        request=EquipmentRecordSerializer,
        responses={201: EquipmentRecordSerializer, **REFUSALS},
    )
    @action(detail=True, methods=["post"])
    def records(self, request: Request, pk: str | None = None) -> Response:
        body = EquipmentRecordSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        record = equipment_services.equipment_record_add(
            actor=acting_user(request), equipment_id=self.get_object().pk, **data
        )
        return Response(EquipmentRecordSerializer(record).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="QA puts the item in or out of service, or in quarantine (signed)",
        request=EquipmentStatusSerializer,
        responses={200: EquipmentSerializer, **REFUSALS},
    )
    @action(detail=True, methods=["post"])
    def decide(self, request: Request, pk: str | None = None) -> Response:
        body = EquipmentStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item = equipment_services.equipment_status_set(
            actor=acting_user(request), equipment_id=self.get_object().pk, **body.validated_data
        )
        return Response(EquipmentSerializer(item).data)

    @extend_schema(summary="Use log: every batch the item touched", responses={200: EquipmentUseSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def uses(self, request: Request, pk: str | None = None) -> Response:
        return Response(EquipmentUseSerializer(equipment_log(self.get_object()), many=True).data)


@extend_schema_view(
    create=extend_schema(
        summary="Record a line clearance (operator, signed)", responses={201: LineClearanceSerializer, **REFUSALS}
    )
)
class LineClearanceViewSet(
    CellBatchMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[LineClearance],
):
    write_roles = {"create": (Role.OPERATOR,), "verify": QA}
    queryset = LineClearance.objects.select_related("workstation", "previous_batch", "performed_by", "verified_by")
    serializer_class = LineClearanceSerializer

    def perform_create(self, serializer: Any) -> None:
        data = dict(serializer.validated_data)
        serializer.instance = workstations.line_clearance_record(
            actor=acting_user(self.request), workstation_id=data.pop("workstation").pk, **data
        )

    @extend_schema(
        summary="QA verifies the line clearance (signed)",
        request=PasswordSerializer,
        responses={200: LineClearanceSerializer, **REFUSALS},
    )
    @action(detail=True, methods=["post"])
    def verify(self, request: Request, pk: str | None = None) -> Response:
        body = PasswordSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        clearance = workstations.line_clearance_verify(
            actor=acting_user(request), clearance_id=self.get_object().pk, **body.validated_data
        )
        return Response(LineClearanceSerializer(clearance).data)


@extend_schema_view(
    create=extend_schema(
        summary="Open an environmental monitoring session with its samples",
        request=SessionOpenSerializer,
        responses={201: MonitoringSessionSerializer, **REFUSALS},
    )
)
class MonitoringSessionViewSet(
    CellBatchMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[MonitoringSession],
):
    write_roles = {"create": (Role.OPERATOR,), "close": (Role.OPERATOR,)}
    queryset = MonitoringSession.objects.select_related("workstation", "opened_by", "closed_by").prefetch_related(
        "samples__read_by"
    )
    serializer_class = MonitoringSessionSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = SessionOpenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        session = workstations.monitoring_session_open(
            actor=acting_user(request),
            workstation_id=data["workstation"].pk,
            opened_at=data["opened_at"],
            samples=sample_specs(data["samples"]),
        )
        return Response(MonitoringSessionSerializer(session).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Close the session, adding its end-of-session samples",
        request=SessionCloseSerializer,
        responses={200: MonitoringSessionSerializer, **REFUSALS},
    )
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        body = SessionCloseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        session = workstations.monitoring_session_close(
            actor=acting_user(request),
            session_id=self.get_object().pk,
            closed_at=body.validated_data["closed_at"],
            samples=sample_specs(body.validated_data["samples"]),
        )
        return Response(MonitoringSessionSerializer(session).data)


class DefinitionRequirementsViewSet(CellBatchMixin, viewsets.GenericViewSet[ProcessDefinition]):
    """What each step of a process definition needs; declared while it is a draft (QA or the administrator)."""

    write_roles = {"material_requirements": DEFINITION_ROLES, "equipment_requirements": DEFINITION_ROLES}
    queryset = ProcessDefinition.objects.all()

    @extend_schema(
        summary="The materials and equipment kinds each step of the definition requires",
        responses={200: DefinitionRequirementsSerializer},
    )
    @action(detail=True, methods=["get"])
    def requirements(self, request: Request, pk: str | None = None) -> Response:
        definition = self.get_object()
        return Response(
            DefinitionRequirementsSerializer(
                {
                    "materials": definition.material_requirements.all(),
                    "equipment": definition.equipment_requirements.all(),
                }
            ).data
        )

    @extend_schema(
        summary="Declare a material a step uses (category, grade or higher, quantity); drafts only",
        request=MaterialRequirementSerializer,
        responses={201: MaterialRequirementSerializer, **REFUSALS},
    )
    @action(detail=True, methods=["post"], url_path="material-requirements")
    def material_requirements(self, request: Request, pk: str | None = None) -> Response:
        body = MaterialRequirementSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        requirement = materials.material_requirement_add(
            actor=acting_user(request), definition_id=self.get_object().pk, **body.validated_data
        )
        return Response(MaterialRequirementSerializer(requirement).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Declare a kind of equipment a step names by scan; drafts only",
        request=EquipmentRequirementSerializer,
        responses={201: EquipmentRequirementSerializer, **REFUSALS},
    )
    @action(detail=True, methods=["post"], url_path="equipment-requirements")
    def equipment_requirements(self, request: Request, pk: str | None = None) -> Response:
        body = EquipmentRequirementSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        requirement = equipment_services.equipment_requirement_add(
            actor=acting_user(request), definition_id=self.get_object().pk, **body.validated_data
        )
        return Response(EquipmentRequirementSerializer(requirement).data, status=status.HTTP_201_CREATED)


class BatchInputsViewSet(CellBatchMixin, viewsets.GenericViewSet[Batch]):
    queryset = Batch.objects.all()

    def get_queryset(self) -> QuerySet[Batch]:
        return Batch.objects.all()

    @extend_schema(
        summary="The lots and equipment a batch used, as recorded at each step", responses={200: BatchInputsSerializer}
    )
    @action(detail=True, methods=["get"])
    def inputs(self, request: Request, pk: str | None = None) -> Response:
        batch = self.get_object()
        return Response(
            BatchInputsSerializer({"lots": batch_lot_uses(batch), "equipment": batch_equipment_uses(batch)}).data
        )
