"""REST API views: parse the request, call one service, answer with the record.

Every state change is an explicit POST action; refusals become 400/403/404/409 through
batches.api.exceptions. Step corrections need the step's current ETag in If-Match.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import filters, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from batches.api.fields import ErrorSerializer, PasswordSerializer, ReasonSerializer
from batches.api.lists import BatchCursorPagination, BatchSearchFilter
from batches.api.permissions import RolePermission
from batches.api.serializers import (
    BatchDetailSerializer,
    BatchRegisterSerializer,
    BatchSerializer,
    PatientSerializer,
    ProcessDefinitionSerializer,
)
from batches.api.step_serializers import STEP_SERIALIZERS, StepSerializer, correction_serializer
from batches.models import Batch, Patient, ProcessDefinition, StepRecord
from batches.roles import Role
from batches.services import batch as batch_services
from batches.services.actions import StateAction
from batches.services.batch import CANCEL, QUARANTINE, START_COLLECTION, START_MOBILIZATION, START_PROCESSING
from batches.services.master import patient_enrol, process_definition_approve, process_definition_create
from batches.services.steps import STEP_LABELS, STEP_MODELS, step_correct, step_record, step_verify
from batches.signature_checks import canonical_content
from batches.web import acting_user

if TYPE_CHECKING:
    from rest_framework.permissions import _PermissionClass

OPERATOR = (Role.OPERATOR,)


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


REFUSALS = {
    400: OpenApiResponse(description="Invalid input: {field: [messages]}."),
    403: error("Not signed in, role missing, wrong password or separation of duties."),
    404: error("No such record."),
    409: error("The batch is not in a state that allows this, or a database guard refused it."),
}


class CellBatchMixin:
    permission_classes: Sequence[_PermissionClass] = [RolePermission]
    write_roles: dict[str, tuple[Role, ...]] = {}


# --- Batches -------------------------------------------------------------------------------------


def _state_action(declared: StateAction, summary: str) -> Any:
    """An explicit POST action calling the declared action's service (its route is the action's slug)."""

    def view(self: BatchViewSet, request: Request, pk: str | None = None) -> Response:
        batch = self.get_object()
        kwargs: dict[str, Any] = {"actor": acting_user(request), "batch_id": batch.pk}
        if declared.needs_reason:
            body = ReasonSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            kwargs["reason"] = body.validated_data["reason"]
        declared.service(**kwargs)
        return Response(BatchDetailSerializer(self.get_object()).data)

    # The name is set before @action reads it: it becomes the route name (batch-start-mobilization).
    view.__name__ = declared.slug.replace("-", "_")
    schema = extend_schema(
        summary=summary,
        request=ReasonSerializer if declared.needs_reason else None,
        responses={200: BatchDetailSerializer, **REFUSALS},
    )
    return schema(action(detail=True, methods=["post"], url_path=declared.slug)(view))


@extend_schema_view(
    list=extend_schema(
        summary="List batches, newest first (filter by status; search: batch number or subject code prefix)"
    ),
    retrieve=extend_schema(summary="A batch with its steps, signatures and state history"),
    create=extend_schema(
        summary="Register a batch", request=BatchRegisterSerializer, responses={201: BatchDetailSerializer, **REFUSALS}
    ),
)
class BatchViewSet(CellBatchMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Batch]):
    # Each state change's roles come from its declaration, as its service's guard reads them.
    write_roles = {
        "create": OPERATOR,
        **{a.slug.replace("-", "_"): a.roles for a in (START_MOBILIZATION, START_COLLECTION, START_PROCESSING)},
        **{a.slug.replace("-", "_"): a.roles for a in (QUARANTINE, CANCEL)},
    }
    filter_backends = [DjangoFilterBackend, BatchSearchFilter, filters.OrderingFilter]
    filterset_fields = ["status", "process_definition"]
    # Prefix search (batch number or subject code starting with the term, any case): an index range
    # scan, where a substring search would read every batch.
    search_fields = ["^batch_number", "^patient__subject_code"]
    ordering_fields = ["registered_at", "status_changed_at", "batch_number"]
    pagination_class = BatchCursorPagination

    def get_queryset(self) -> QuerySet[Batch]:
        queryset = Batch.objects.select_related("patient", "process_definition", "registered_by")
        if self.action != "list":
            queryset = queryset.prefetch_related(
                "gcsf_administrations__performed_by",
                "gcsf_administrations__verified_by",
                "signatures__content_type",
                "transitions__actor",
            )
        return queryset

    def get_serializer_class(self) -> type[BatchSerializer]:
        return BatchSerializer if self.action == "list" else BatchDetailSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = BatchRegisterSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        batch = batch_services.batch_register(
            actor=acting_user(request),
            patient_id=body.validated_data["patient"].pk,
            process_definition_id=body.validated_data["process_definition"].pk,
        )
        return Response(BatchDetailSerializer(self.get_queryset().get(pk=batch.pk)).data, status=201)

    start_mobilization = _state_action(START_MOBILIZATION, "Start G-CSF mobilization")
    start_collection = _state_action(START_COLLECTION, "Close mobilization and start apheresis collection")
    start_processing = _state_action(START_PROCESSING, "Start processing (CD133+ selection)")
    quarantine = _state_action(QUARANTINE, "End processing: the product goes to quarantine")
    cancel = _state_action(CANCEL, "Cancel the batch (reason required)")


# --- Steps ---------------------------------------------------------------------------------------


def step_etag(step: StepRecord) -> str:
    """Changes whenever the step's content or its verification changes."""
    digest = hashlib.sha256(canonical_content(step))
    digest.update(f"|{step.verified_by_id}|{step.verified_at}".encode())
    return f'"{digest.hexdigest()[:32]}"'


class StepKindMixin(CellBatchMixin):
    kind = ""

    def step_queryset(self) -> QuerySet[Any]:
        model: Any = STEP_MODELS[self.kind]
        return model._default_manager.select_related("performed_by", "verified_by")

    def answer(self, step: StepRecord, code: int = 200) -> Response:
        step = self.step_queryset().get(pk=step.pk)
        return Response(STEP_SERIALIZERS[self.kind](step).data, status=code, headers={"ETag": step_etag(step)})


class BatchStepsView(StepKindMixin, mixins.ListModelMixin, GenericAPIView[Any]):
    """GET the batch's steps of one kind; POST records one, signed with the password."""

    write_roles = {"post": OPERATOR}

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no URL arguments
            return self.step_queryset().none()
        # Pages of a list must not depend on the table's physical order: the model's, else recording order.
        steps = self.step_queryset().filter(batch_id=self.kwargs["batch_id"])
        return steps if steps.ordered else steps.order_by("pk")

    def get(self, request: Request, batch_id: int) -> Response:
        Batch.objects.only("pk").get(pk=batch_id)
        return self.list(request)

    def post(self, request: Request, batch_id: int) -> Response:
        body = STEP_SERIALIZERS[self.kind](data=request.data)
        body.is_valid(raise_exception=True)
        step = step_record(
            kind=self.kind,
            batch_id=batch_id,
            actor=acting_user(request),
            password=body.validated_data["password"],
            otp_token=body.validated_data.get("otp_token", ""),
            values=body.values(),
            transcribed=body.transcription(),
            lots=body.scans()["lots"],
            equipment=body.scans()["equipment"],
        )
        return self.answer(step, status.HTTP_201_CREATED)


class StepDetailView(StepKindMixin, GenericAPIView[Any]):
    """GET one step (with its ETag); PATCH corrects it (If-Match, reason, password)."""

    write_roles = {"patch": OPERATOR}

    def get_queryset(self) -> QuerySet[Any]:
        return self.step_queryset()

    def get(self, request: Request, step_id: int) -> Response:
        return self.answer(self.step_queryset().get(pk=step_id))

    def patch(self, request: Request, step_id: int) -> Response:
        body: StepSerializer = correction_serializer(self.kind)(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        expected = request.headers.get("If-Match")
        if not expected:
            return Response(
                {"detail": "Send the step's current ETag in If-Match (GET the step first)."},
                status=status.HTTP_428_PRECONDITION_REQUIRED,
            )
        with transaction.atomic():
            # Locked, so that nobody changes the step between this comparison and the correction.
            current = self.step_queryset().select_for_update(of=("self",)).get(pk=step_id)
            if expected != step_etag(current):
                return Response(
                    {"detail": f"{STEP_LABELS[self.kind]} changed since you read it; GET it again and retry."},
                    status=status.HTTP_412_PRECONDITION_FAILED,
                    headers={"ETag": step_etag(current)},
                )
            step = step_correct(
                kind=self.kind,
                step_id=current.pk,
                actor=acting_user(request),
                password=body.validated_data["password"],
                otp_token=body.validated_data.get("otp_token", ""),
                values=body.values(),
                reason=body.validated_data["reason"],
            )
        return self.answer(step)


class StepVerifyView(StepKindMixin, GenericAPIView[Any]):
    """Second-person verification, signed with the password; the step is read-only afterwards."""

    write_roles = {"post": (Role.VERIFIER,)}
    serializer_class = PasswordSerializer

    def post(self, request: Request, step_id: int) -> Response:
        body = PasswordSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        step = step_verify(
            kind=self.kind,
            step_id=step_id,
            verifier=acting_user(request),
            password=body.validated_data["password"],
            otp_token=body.validated_data["otp_token"],
        )
        return self.answer(step)


def step_views(kind: str) -> tuple[Any, Any, Any]:
    """The three step views for one kind, each with that kind's serializer in its schema."""
    label = STEP_LABELS[kind]
    serializer = STEP_SERIALIZERS[kind]
    steps = extend_schema_view(
        get=extend_schema(summary=f"{label}s of a batch", responses={200: serializer(many=True), **REFUSALS}),
        post=extend_schema(summary=f"Record {label} (signed)", responses={201: serializer, **REFUSALS}),
    )(type(f"{kind.title()}StepsView", (BatchStepsView,), {"kind": kind, "serializer_class": serializer}))
    detail = extend_schema_view(
        get=extend_schema(summary=f"One {label} (ETag header)", responses={200: serializer, 404: REFUSALS[404]}),
        patch=extend_schema(
            summary=f"Correct an unverified {label} (If-Match, reason, password)",
            request=correction_serializer(kind),
            responses={
                200: serializer,
                **REFUSALS,
                412: error("If-Match does not match the step's current ETag."),
                428: error("If-Match is missing."),
            },
        ),
    )(type(f"{kind.title()}StepDetailView", (StepDetailView,), {"kind": kind, "serializer_class": serializer}))
    verify = extend_schema_view(
        post=extend_schema(
            summary=f"Verify {label} (second person, signed)",
            request=PasswordSerializer,
            responses={200: serializer, **REFUSALS},
        ),
    )(type(f"{kind.title()}StepVerifyView", (StepVerifyView,), {"kind": kind}))
    views: list[Any] = [steps, detail, verify]
    return views[0].as_view(), views[1].as_view(), views[2].as_view()


# --- Master data ---------------------------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(summary="Enrol a trial subject", responses={201: PatientSerializer, **REFUSALS}),
)
class PatientViewSet(
    CellBatchMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[Patient],
):
    write_roles = {"create": (Role.OPERATOR, Role.CLINICIAN)}
    queryset = Patient.objects.select_related("enrolled_by")
    serializer_class = PatientSerializer
    filter_backends = [DjangoFilterBackend, filters.SearchFilter]
    filterset_fields = ["eligibility_confirmed"]
    search_fields = ["subject_code"]

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = patient_enrol(actor=acting_user(self.request), **serializer.validated_data)


@extend_schema_view(
    create=extend_schema(
        summary="Draft the next version of a process definition",
        responses={201: ProcessDefinitionSerializer, **REFUSALS},
    ),
)
class ProcessDefinitionViewSet(
    CellBatchMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[ProcessDefinition],
):
    write_roles = {"create": (Role.QA_REVIEWER, Role.ADMIN), "approve": (Role.QA_REVIEWER, Role.QUALIFIED_PERSON)}
    queryset = ProcessDefinition.objects.select_related("created_by", "first_approved_by", "second_approved_by")
    serializer_class = ProcessDefinitionSerializer
    filterset_fields = ["code", "status"]

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = process_definition_create(
            actor=acting_user(self.request), values=dict(serializer.validated_data)
        )

    @extend_schema(
        summary="Approve (one of two different approvers, signed)",
        request=PasswordSerializer,
        responses={200: ProcessDefinitionSerializer, **REFUSALS},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        body = PasswordSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        definition = process_definition_approve(
            definition_id=self.get_object().pk,
            approver=acting_user(request),
            password=body.validated_data["password"],
            otp_token=body.validated_data["otp_token"],
        )
        return Response(ProcessDefinitionSerializer(self.get_queryset().get(pk=definition.pk)).data)
