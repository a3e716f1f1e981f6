"""REST API for custody, delivery and follow-up: read for every batch role, each change an explicit action."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from batches import cohort, isbt128, labels
from batches.exceptions import StateConflict
from batches.models import (
    AdverseEvent,
    Batch,
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
from batches.roles import Role, has_role
from batches.services import custody, delivery, followup

READ_ROLES = (
    Role.OPERATOR,
    Role.QC_ANALYST,
    Role.VERIFIER,
    Role.QA_REVIEWER,
    Role.QUALIFIED_PERSON,
    Role.CLINICIAN,
    Role.AUDITOR,
)


class HasBatchRole(permissions.BasePermission):
    """Any batch role may read; each write is checked again by its service (role, separation of duties)."""

    message = "This needs a batch role (operator, QC, verifier, QA, QP, clinician or auditor)."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and has_role(request.user, *READ_ROLES))


class ServiceErrors:
    """Translate service errors: bad input 400, wrong state 409, refused 403, unknown record 404."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, StateConflict):
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_409_CONFLICT)
        if isinstance(exc, ValidationError):
            body = exc.message_dict if hasattr(exc, "error_dict") else {"detail": " ".join(exc.messages)}
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        if isinstance(exc, isbt128.IdentifierError):
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        if isinstance(exc, ObjectDoesNotExist):
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        if isinstance(exc, DjangoPermissionDenied):
            return Response({"detail": str(exc) or "Permission denied."}, status=status.HTTP_403_FORBIDDEN)
        return super().handle_exception(exc)  # type: ignore[misc]


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


class PasswordField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(write_only=True, style={"input_type": "password"}, **kwargs)


class HandOverInput(serializers.Serializer[Any]):
    batch = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=[HandOff.COLLECTION_TO_LAB, HandOff.LAB_TO_QC])
    from_location = serializers.CharField(max_length=120)
    to_location = serializers.CharField(max_length=120)
    handed_over_at = serializers.DateTimeField()
    temperature_c = serializers.DecimalField(max_digits=4, decimal_places=1)
    sample_reference = serializers.CharField(max_length=40, required=False, default="", allow_blank=True)
    notes = serializers.CharField(required=False, default="", allow_blank=True)


class ReceiveInput(serializers.Serializer[Any]):
    scanned_data = serializers.CharField(max_length=80, allow_blank=True)
    received_at = serializers.DateTimeField()
    temperature_c = serializers.DecimalField(max_digits=4, decimal_places=1)
    late_entry_reason = serializers.CharField(required=False, default="", allow_blank=True)


class DispatchInput(serializers.Serializer[Any]):
    to_location = serializers.CharField(max_length=120)
    from_location = serializers.CharField(max_length=120, required=False, default="", allow_blank=True)
    temperature_c = serializers.DecimalField(max_digits=4, decimal_places=1)
    password = PasswordField()


class BedsideScanInput(serializers.Serializer[Any]):
    scanned_data = serializers.CharField(max_length=80, allow_blank=True)
    patient_subject_code = serializers.CharField(max_length=20, allow_blank=True)
    password = PasswordField()


class BedsideConfirmInput(serializers.Serializer[Any]):
    scanned_data = serializers.CharField(max_length=80, allow_blank=True)
    password = PasswordField()


class InfusionInput(serializers.Serializer[Any]):
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField()
    left_cells = serializers.IntegerField(min_value=0)
    left_volume_ml = serializers.DecimalField(max_digits=6, decimal_places=1, min_value=0)
    right_cells = serializers.IntegerField(min_value=0)
    right_volume_ml = serializers.DecimalField(max_digits=6, decimal_places=1, min_value=0)
    notes = serializers.CharField(required=False, default="", allow_blank=True)
    late_entry_reason = serializers.CharField(required=False, default="", allow_blank=True)
    password = PasswordField()


class CloseInput(serializers.Serializer[Any]):
    reason = serializers.CharField(required=False, default="", allow_blank=True)
    password = PasswordField()


class ExpiredUseInput(serializers.Serializer[Any]):
    batch = serializers.IntegerField()
    deviation_reference = serializers.CharField(max_length=40)
    reason = serializers.CharField()
    valid_until = serializers.DateTimeField()
    password = PasswordField()


class AdverseEventInput(serializers.Serializer[Any]):
    batch = serializers.IntegerField()
    phase = serializers.ChoiceField(choices=AdverseEventPhase.choices)
    term = serializers.CharField(max_length=120)
    ctcae_grade = serializers.IntegerField(min_value=1, max_value=5)
    relatedness = serializers.ChoiceField(choices=Relatedness.choices)
    serious = serializers.BooleanField(required=False, default=False)
    onset_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    notes = serializers.CharField(required=False, default="", allow_blank=True)


class FollowUpVisitInput(serializers.Serializer[Any]):
    batch = serializers.IntegerField()
    visit_date = serializers.DateField()
    menses = serializers.ChoiceField(choices=Menses.choices)
    endometrial_thickness_mm = serializers.DecimalField(
        max_digits=4, decimal_places=1, required=False, allow_null=True, default=None
    )
    adhesion_score = serializers.IntegerField(min_value=0, max_value=12, required=False, allow_null=True, default=None)
    notes = serializers.CharField(required=False, default="", allow_blank=True)


class EmbryoTransferInput(serializers.Serializer[Any]):
    batch = serializers.IntegerField()
    transfer_date = serializers.DateField()
    embryos_transferred = serializers.IntegerField(min_value=1, default=1)
    notes = serializers.CharField(required=False, default="", allow_blank=True)


class OutcomeInput(serializers.Serializer[Any]):
    implantation = serializers.BooleanField(allow_null=True)
    clinical_pregnancy = serializers.BooleanField(allow_null=True, required=False, default=None)
    live_birth = serializers.BooleanField(allow_null=True, required=False, default=None)
    reason = serializers.CharField(required=False, default="", allow_blank=True)


def _input(serializer_class: type[serializers.Serializer[Any]], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- views -------------------------------------------------------------------------------------


class RecordViewSet(ServiceErrors, viewsets.ReadOnlyModelViewSet):
    permission_classes = [permissions.IsAuthenticated, HasBatchRole]
    filterset_fields = ["batch"]


class PatientIdentityViewSet(RecordViewSet):
    queryset = PatientIdentity.objects.select_related("patient").order_by("pk")
    serializer_class = PatientIdentitySerializer
    filterset_fields = ["patient"]


class CustodyEventViewSet(mixins.CreateModelMixin, RecordViewSet):
    queryset = CustodyEvent.objects.order_by("pk")
    serializer_class = CustodyEventSerializer
    filterset_fields = ["batch", "kind"]

    @extend_schema(request=HandOverInput, responses={201: CustodyEventSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Hand the product or a QC sample over (collection → laboratory, laboratory → QC)."""
        data = _input(HandOverInput, request)
        event = custody.custody_hand_over(actor=request.user, batch_id=data.pop("batch"), **data)  # type: ignore[arg-type]
        return Response(CustodyEventSerializer(event).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReceiveInput, responses={200: CustodyEventSerializer})
    @action(detail=True, methods=["post"])
    def receive(self, request: Request, pk: str) -> Response:
        """Take custody by scanning the bag; a scan of another bag is refused and recorded."""
        event = self.get_object()
        data = _input(ReceiveInput, request)
        received = custody.custody_receive(actor=request.user, custody_event_id=event.pk, **data)  # type: ignore[arg-type]
        return Response(CustodyEventSerializer(received).data)


class IdentityScanViewSet(RecordViewSet):
    queryset = IdentityScan.objects.order_by("pk")
    serializer_class = IdentityScanSerializer
    filterset_fields = ["batch", "matched", "point"]


class ExpiredUseAuthorizationViewSet(mixins.CreateModelMixin, RecordViewSet):
    queryset = ExpiredUseAuthorization.objects.order_by("pk")
    serializer_class = ExpiredUseAuthorizationSerializer

    @extend_schema(request=ExpiredUseInput, responses={201: ExpiredUseAuthorizationSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """QA authorises use past expiry under a documented deviation (signed)."""
        data = _input(ExpiredUseInput, request)
        record = custody.expired_use_authorize(actor=request.user, batch_id=data.pop("batch"), **data)  # type: ignore[arg-type]
        return Response(ExpiredUseAuthorizationSerializer(record).data, status=status.HTTP_201_CREATED)


class BedsideCheckViewSet(RecordViewSet):
    queryset = BedsideCheck.objects.order_by("pk")
    serializer_class = BedsideCheckSerializer


class InfusionViewSet(RecordViewSet):
    queryset = Infusion.objects.order_by("pk")
    serializer_class = InfusionSerializer


class AdverseEventViewSet(mixins.CreateModelMixin, RecordViewSet):
    queryset = AdverseEvent.objects.order_by("pk")
    serializer_class = AdverseEventSerializer
    filterset_fields = ["batch", "ctcae_grade", "phase"]

    @extend_schema(request=AdverseEventInput, responses={201: AdverseEventSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _input(AdverseEventInput, request)
        event = delivery.adverse_event_record(actor=request.user, batch_id=data.pop("batch"), **data)  # type: ignore[arg-type]
        return Response(AdverseEventSerializer(event).data, status=status.HTTP_201_CREATED)


class FollowUpVisitViewSet(mixins.CreateModelMixin, RecordViewSet):
    queryset = FollowUpVisit.objects.order_by("pk")
    serializer_class = FollowUpVisitSerializer

    @extend_schema(request=FollowUpVisitInput, responses={201: FollowUpVisitSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _input(FollowUpVisitInput, request)
        visit = followup.follow_up_visit_record(actor=request.user, batch_id=data.pop("batch"), **data)  # type: ignore[arg-type]
        return Response(FollowUpVisitSerializer(visit).data, status=status.HTTP_201_CREATED)


class EmbryoTransferViewSet(mixins.CreateModelMixin, RecordViewSet):
    queryset = EmbryoTransfer.objects.order_by("pk")
    serializer_class = EmbryoTransferSerializer

    @extend_schema(request=EmbryoTransferInput, responses={201: EmbryoTransferSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _input(EmbryoTransferInput, request)
        transfer = followup.embryo_transfer_record(actor=request.user, batch_id=data.pop("batch"), **data)  # type: ignore[arg-type]
        return Response(EmbryoTransferSerializer(transfer).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=OutcomeInput, responses={200: EmbryoTransferSerializer})
    @action(detail=True, methods=["post"])
    def outcome(self, request: Request, pk: str) -> Response:
        """Record implantation, clinical pregnancy and live birth as they become known."""
        transfer = self.get_object()
        data = _input(OutcomeInput, request)
        updated = followup.embryo_transfer_record_outcome(actor=request.user, transfer_id=transfer.pk, **data)  # type: ignore[arg-type]
        return Response(EmbryoTransferSerializer(updated).data)


class BatchDeliveryViewSet(ServiceErrors, viewsets.GenericViewSet):
    """State changes of delivery on a batch: /batches/{id}/dispatch/, …/bedside-check/, …/infusion/, …"""

    permission_classes = [permissions.IsAuthenticated, HasBatchRole]
    serializer_class = CustodyEventSerializer

    def get_queryset(self) -> QuerySet[Batch]:
        return Batch.objects.select_related("patient", "process_definition").order_by("pk")

    @extend_schema(request=DispatchInput, responses={200: CustodyEventSerializer})
    @action(detail=True, methods=["post"], url_path="dispatch")
    def dispatch_batch(self, request: Request, pk: str) -> Response:
        """Released → dispatched: the laboratory hands the product to interventional radiology."""
        batch = self.get_object()
        event = delivery.batch_dispatch(actor=request.user, batch_id=batch.pk, **_input(DispatchInput, request))  # type: ignore[arg-type]
        return Response(CustodyEventSerializer(event).data)

    @extend_schema(request=BedsideScanInput, responses={200: BedsideCheckSerializer})
    @action(detail=True, methods=["post"], url_path="bedside-check")
    def bedside_check(self, request: Request, pk: str) -> Response:
        """First clinician: scan the bag and the patient's wristband."""
        batch = self.get_object()
        check = delivery.bedside_check_scan(actor=request.user, batch_id=batch.pk, **_input(BedsideScanInput, request))  # type: ignore[arg-type]
        return Response(BedsideCheckSerializer(check).data)

    @extend_schema(request=BedsideConfirmInput, responses={200: BedsideCheckSerializer})
    @action(detail=True, methods=["post"], url_path="bedside-confirm")
    def bedside_confirm(self, request: Request, pk: str) -> Response:
        """Second clinician: scan the bag again and confirm."""
        batch = self.get_object()
        check = delivery.bedside_check_confirm(
            actor=request.user,  # type: ignore[arg-type]
            batch_id=batch.pk,
            **_input(BedsideConfirmInput, request),
        )
        return Response(BedsideCheckSerializer(check).data)

    @extend_schema(request=InfusionInput, responses={200: InfusionSerializer})
    @action(detail=True, methods=["post"])
    def infusion(self, request: Request, pk: str) -> Response:
        """Dispatched → infused: record the uterine-artery infusion."""
        batch = self.get_object()
        data = _input(InfusionInput, request)
        password = data.pop("password")
        infusion = delivery.infusion_record(actor=request.user, batch_id=batch.pk, password=password, values=data)  # type: ignore[arg-type]
        return Response(InfusionSerializer(infusion).data)

    @extend_schema(request=CloseInput, responses={200: OpenApiResponse(description="The batch is closed.")})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        """Infused → closed (QA)."""
        batch = self.get_object()
        closed = delivery.batch_close(actor=request.user, batch_id=batch.pk, **_input(CloseInput, request))  # type: ignore[arg-type]
        return Response({"id": closed.pk, "batch_number": closed.batch_number, "status": closed.status})

    @extend_schema(request=None, responses={(200, "application/pdf"): OpenApiResponse(description="Bag labels")})
    @action(detail=True, methods=["get"])
    def labels(self, request: Request, pk: str) -> HttpResponse:
        """The bag labels as a PDF."""
        batch = self.get_object()
        try:
            pdf = labels.batch_labels_pdf(batch)
        except ValueError as exc:
            raise StateConflict(str(exc)) from exc
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="labels-{batch.din}.pdf"'
        return response


class CohortView(APIView):
    """The trial's figures over every treated patient."""

    permission_classes = [permissions.IsAuthenticated, HasBatchRole]

    @extend_schema(responses={200: OpenApiResponse(description="Cohort summary")})
    def get(self, request: Request) -> Response:
        outcomes = cohort.outcomes_from_records()
        body = cohort.summarize(outcomes).as_dict()
        body["patients"] = [
            {"subject_code": p.subject_code, "cells_infused": p.cells_infused, "outcome": p.outcome} for p in outcomes
        ]
        return Response(body)
