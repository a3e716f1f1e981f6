"""API of batch-record documents: list and status, request on demand, audited download, verify a file."""

from __future__ import annotations

from dataclasses import asdict

from django.core.exceptions import ValidationError
from django.http import FileResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from batches import limits
from batches.exceptions import StateConflict
from batches.models import Batch, BatchDocument, DocumentKind
from batches.release import documents

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def error_response(exc: ValidationError) -> Response:
    """A service refusal as 400 (bad input) or 409 (wrong state), with the service's own words."""
    body = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
    code = status.HTTP_409_CONFLICT if isinstance(exc, StateConflict) else status.HTTP_400_BAD_REQUEST
    return Response(body, status=code)


class BatchDocumentSerializer(serializers.ModelSerializer):
    batch_number = serializers.CharField(source="batch.batch_number", read_only=True)

    class Meta:
        model = BatchDocument
        fields = [
            "id",
            "batch",
            "batch_number",
            "kind",
            "revision",
            "status",
            "failure_reason",
            "requested_by",
            "requested_at",
            "attempts",
            "signed_at",
            "sha256",
            "size_bytes",
            "page_count",
            "certificate_fingerprint",
            "snapshot_sha256",
        ]
        read_only_fields = fields


class DocumentRequestSerializer(serializers.Serializer):
    batch = serializers.PrimaryKeyRelatedField(queryset=Batch.objects.all())
    reason = serializers.CharField(max_length=limits.REASON, required=False, allow_blank=True, default="")


class BatchDocumentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Batch records: their build status while queued or building, and the signed result."""

    queryset = BatchDocument.objects.select_related("batch").order_by("-requested_at", "-pk")
    serializer_class = BatchDocumentSerializer
    filterset_fields = ["batch", "kind", "status"]

    @extend_schema(request=DocumentRequestSerializer, responses={202: BatchDocumentSerializer})
    def create(self, request: Request) -> Response:
        """Request a new revision of the batch record (kind: on request); it is built in the background."""
        given = DocumentRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            document = documents.document_request(
                batch=given.validated_data["batch"],
                kind=DocumentKind.ON_REQUEST,
                actor=request.user,  # type: ignore[arg-type]
                reason=given.validated_data["reason"],
            )
        except ValidationError as exc:
            return error_response(exc)
        return Response(BatchDocumentSerializer(document).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={(200, "application/pdf"): bytes})
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk: str) -> Response | FileResponse:
        """The signed PDF (QA reviewers, QPs and auditors; every download is recorded)."""
        document = self.get_object()
        try:
            document, handle = documents.document_download(
                document_id=document.pk,
                actor=request.user,  # type: ignore[arg-type]
                channel="api",
            )
        except ValidationError as exc:
            return error_response(exc)
        return FileResponse(handle, as_attachment=True, filename=document.filename, content_type="application/pdf")


class VerifyUploadSerializer(serializers.Serializer):
    file = serializers.FileField()


class VerifyView(APIView):
    """Anyone holding a batch-record PDF may check it: intact, trusted seal, issued by this system."""

    permission_classes = [AllowAny]
    parser_classes = [MultiPartParser]

    @extend_schema(
        request=VerifyUploadSerializer,
        responses=inline_serializer(
            "VerificationReport",
            {
                "ok": serializers.BooleanField(),
                "sha256": serializers.CharField(),
                "intact": serializers.BooleanField(),
                "trusted": serializers.BooleanField(),
                "issued": serializers.BooleanField(),
                "batch_number": serializers.CharField(),
                "kind": serializers.CharField(),
                "revision": serializers.IntegerField(allow_null=True),
                "superseded_by": serializers.IntegerField(allow_null=True),
                "signer": serializers.CharField(),
                "timestamped_at": serializers.CharField(help_text="RFC 3161 time (PAdES B-T); empty without one"),
                "problems": serializers.ListField(child=serializers.CharField()),
            },
        ),
    )
    def post(self, request: Request) -> Response:
        given = VerifyUploadSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        upload = given.validated_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            return Response({"file": [f"The file is larger than {MAX_UPLOAD_BYTES // 1048576} MB."]}, status=400)
        report = documents.document_verify(data=upload.read())
        return Response({"ok": report.ok, **asdict(report)})
