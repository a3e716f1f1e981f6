"""Read-only audit-trail API: a batch's trail and its exports, a user's activity (role-checked)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from batches.ledger.export import EXPORTS
from batches.ledger.trail import batch_trail, user_activity
from batches.models import Batch
from batches.roles import Role, has_role
from batches.views.audit import ACTIVITY_LIMIT, ACTIVITY_ROLES, TRAIL_ROLES, export_response


class ChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # the output key is "label"
    old = serializers.CharField(allow_null=True)
    new = serializers.CharField(allow_null=True)


class EntrySerializer(serializers.Serializer):
    event = serializers.CharField(help_text="<event table>:<event id>, unique across the trail.")
    record = serializers.CharField()
    record_name = serializers.CharField()
    object_id = serializers.IntegerField()
    action = serializers.ChoiceField(choices=["insert", "update", "delete"])
    at_utc = serializers.CharField(source="at_utc_iso", help_text="Server time, UTC (ISO 8601).")
    at_local = serializers.CharField(source="at_local_iso", help_text="Server time in the facility's zone.")
    actor = serializers.CharField(help_text="User name, system:<task or command>, or db:<role>.")
    db_role = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)
    changes = ChangeSerializer(many=True)


class HoldsRole(BasePermission):
    """Allow users holding one of the view's ``audit_roles``."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        roles = getattr(view, "audit_roles", ())
        self.message = f"This requires the role {', '.join(Role(r).label for r in roles)}."
        return has_role(request.user, *roles)


class BatchAuditTrailView(GenericAPIView):
    """Every audit event of a batch and its records, oldest first, with old → new values."""

    permission_classes = [IsAuthenticated, HoldsRole]
    audit_roles = TRAIL_ROLES
    serializer_class = EntrySerializer

    def get(self, request: Request, batch_id: int) -> Response:
        batch = get_object_or_404(Batch, pk=batch_id)
        page = self.paginate_queryset(batch_trail(batch))
        return self.get_paginated_response(EntrySerializer(page, many=True).data)


class BatchAuditExportView(APIView):
    """The batch's audit trail as a file; its SHA-256 is in the X-Content-SHA256 header."""

    permission_classes = [IsAuthenticated, HoldsRole]
    audit_roles = TRAIL_ROLES
    fmt = "csv"

    @extend_schema(
        responses={200: OpenApiResponse(OpenApiTypes.BINARY, description="CSV or JSON file")},
    )
    def get(self, request: Request, batch_id: int) -> HttpResponse:
        batch = get_object_or_404(Batch, pk=batch_id)
        return export_response(EXPORTS[self.fmt](batch, batch_trail(batch)))


class UserActivityView(GenericAPIView):
    """The latest changes a user made to GMP records, newest first (auditors only)."""

    permission_classes = [IsAuthenticated, HoldsRole]
    audit_roles = ACTIVITY_ROLES
    serializer_class = EntrySerializer

    def get(self, request: Request, user_id: int) -> Response:
        subject = get_object_or_404(User, pk=user_id)
        page = self.paginate_queryset(user_activity(subject.get_username(), limit=ACTIVITY_LIMIT))
        return self.get_paginated_response(EntrySerializer(page, many=True).data)


def export_view(fmt: str) -> Any:
    return BatchAuditExportView.as_view(fmt=fmt)
