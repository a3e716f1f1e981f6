"""REST API for custody, delivery and follow-up: read for every batch role, each change an explicit action."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from batches import cohort, labels
from batches.api.custody_serializers import (
    AdverseEventInput,
    AdverseEventSerializer,
    BedsideCheckSerializer,
    BedsideConfirmInput,
    BedsideScanInput,
    CloseInput,
    CustodyEventSerializer,
    DispatchInput,
    EmbryoTransferInput,
    EmbryoTransferSerializer,
    ExpiredUseAuthorizationSerializer,
    ExpiredUseInput,
    FollowUpVisitInput,
    FollowUpVisitSerializer,
    HandOverInput,
    IdentityScanSerializer,
    InfusionInput,
    InfusionSerializer,
    OutcomeInput,
    PatientIdentitySerializer,
    ReceiptScanInput,
    ReceiveInput,
    keyed_override,
    logger_file,
    read_input,
)
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
from batches.release import adverse_events, bedside, closure, delivery
from batches.roles import BATCH_ROLES, has_role
from batches.services import custody, followup, receipt
from batches.states import BatchStatus
from batches.web import acting_user


class HasBatchRole(permissions.BasePermission):
    """Any batch role may read; each write is checked again by its service (role, separation of duties)."""

    message = "This needs a batch role (operator, QC, verifier, QA, QP, clinician or auditor)."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and has_role(request.user, *BATCH_ROLES))


# --- views -------------------------------------------------------------------------------------


class RecordViewSet(viewsets.ReadOnlyModelViewSet):
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
        data = read_input(HandOverInput, request)
        event = custody.custody_hand_over(actor=acting_user(request), batch_id=data.pop("batch"), **data)
        return Response(CustodyEventSerializer(event).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReceiveInput, responses={200: CustodyEventSerializer})
    @action(detail=True, methods=["post"])
    def receive(self, request: Request, pk: str) -> Response:
        """Take custody: the second independent scan, the logger's file; another bag is refused and recorded."""
        event = self.get_object()
        data = read_input(ReceiveInput, request)
        override, upload = keyed_override(data), logger_file(data)
        received = receipt.custody_receive(
            actor=acting_user(request), custody_event_id=event.pk, override=override, logger_file=upload, **data
        )
        return Response(CustodyEventSerializer(received).data)

    @extend_schema(request=ReceiptScanInput, responses={201: IdentityScanSerializer})
    @action(detail=True, methods=["post"], url_path="receipt-scan")
    def receipt_scan(self, request: Request, pk: str) -> Response:
        """The first of the two independent scans at receipt (a person other than the receiver)."""
        event = self.get_object()
        data = read_input(ReceiptScanInput, request)
        override = keyed_override(data)
        scan = receipt.custody_receipt_scan(
            actor=acting_user(request), custody_event_id=event.pk, override=override, **data
        )
        return Response(IdentityScanSerializer(scan).data, status=status.HTTP_201_CREATED)


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
        data = read_input(ExpiredUseInput, request)
        record = custody.expired_use_authorize(actor=acting_user(request), batch_id=data.pop("batch"), **data)
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
        data = read_input(AdverseEventInput, request)
        event = adverse_events.adverse_event_record(actor=acting_user(request), batch_id=data.pop("batch"), **data)
        return Response(AdverseEventSerializer(event).data, status=status.HTTP_201_CREATED)


class FollowUpVisitViewSet(mixins.CreateModelMixin, RecordViewSet):
    queryset = FollowUpVisit.objects.order_by("pk")
    serializer_class = FollowUpVisitSerializer

    @extend_schema(request=FollowUpVisitInput, responses={201: FollowUpVisitSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = read_input(FollowUpVisitInput, request)
        visit = followup.follow_up_visit_record(actor=acting_user(request), batch_id=data.pop("batch"), **data)
        return Response(FollowUpVisitSerializer(visit).data, status=status.HTTP_201_CREATED)


class EmbryoTransferViewSet(mixins.CreateModelMixin, RecordViewSet):
    queryset = EmbryoTransfer.objects.order_by("pk")
    serializer_class = EmbryoTransferSerializer

    @extend_schema(request=EmbryoTransferInput, responses={201: EmbryoTransferSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = read_input(EmbryoTransferInput, request)
        transfer = followup.embryo_transfer_record(actor=acting_user(request), batch_id=data.pop("batch"), **data)
        return Response(EmbryoTransferSerializer(transfer).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=OutcomeInput, responses={200: EmbryoTransferSerializer})
    @action(detail=True, methods=["post"])
    def outcome(self, request: Request, pk: str) -> Response:
        """Record implantation, clinical pregnancy and live birth as they become known."""
        transfer = self.get_object()
        data = read_input(OutcomeInput, request)
        updated = followup.embryo_transfer_record_outcome(actor=acting_user(request), transfer_id=transfer.pk, **data)
        return Response(EmbryoTransferSerializer(updated).data)


class BatchDeliveryViewSet(viewsets.GenericViewSet):
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
        event = delivery.batch_dispatch(
            actor=acting_user(request), batch_id=batch.pk, **read_input(DispatchInput, request)
        )
        return Response(CustodyEventSerializer(event).data)

    @extend_schema(request=BedsideScanInput, responses={200: BedsideCheckSerializer})
    @action(detail=True, methods=["post"], url_path="bedside-check")
    def bedside_check(self, request: Request, pk: str) -> Response:
        """First clinician: scan the bag and the patient's wristband."""
        batch = self.get_object()
        data = read_input(BedsideScanInput, request)
        override = keyed_override(data)
        check = bedside.bedside_check_scan(actor=acting_user(request), batch_id=batch.pk, override=override, **data)
        return Response(BedsideCheckSerializer(check).data)

    @extend_schema(request=BedsideConfirmInput, responses={200: BedsideCheckSerializer})
    @action(detail=True, methods=["post"], url_path="bedside-confirm")
    def bedside_confirm(self, request: Request, pk: str) -> Response:
        """Second clinician: scan the bag and the wristband again, independently, and confirm."""
        batch = self.get_object()
        data = read_input(BedsideConfirmInput, request)
        override = keyed_override(data)
        check = bedside.bedside_check_confirm(actor=acting_user(request), batch_id=batch.pk, override=override, **data)
        return Response(BedsideCheckSerializer(check).data)

    @extend_schema(request=InfusionInput, responses={200: InfusionSerializer})
    @action(detail=True, methods=["post"])
    def infusion(self, request: Request, pk: str) -> Response:
        """Dispatched → infused: record the uterine-artery infusion."""
        batch = self.get_object()
        data = read_input(InfusionInput, request)
        password, otp_token = data.pop("password"), data.pop("otp_token")
        infusion = delivery.infusion_record(
            actor=acting_user(request), batch_id=batch.pk, password=password, otp_token=otp_token, **data
        )
        return Response(InfusionSerializer(infusion).data)

    @extend_schema(request=CloseInput, responses={200: OpenApiResponse(description="The batch is closed.")})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        """Infused → closed, or rejected → closed once the product is destroyed or returned (QA)."""
        batch = self.get_object()
        service = closure.batch_close_rejected if batch.status == BatchStatus.REJECTED else delivery.batch_close
        closed = service(actor=acting_user(request), batch_id=batch.pk, **read_input(CloseInput, request))
        return Response({"id": closed.pk, "batch_number": closed.batch_number, "status": closed.status})

    @extend_schema(request=None, responses={(200, "application/pdf"): OpenApiResponse(description="Bag labels")})
    @action(detail=True, methods=["get"])
    def labels(self, request: Request, pk: str) -> HttpResponse:
        """The bag labels as a crossed-out specimen PDF (labels for a bag are issued at the desk, one id each)."""
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
