"""Audit-trail pages for auditors, QA and QPs: per batch, per user, and exports with their SHA-256."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from batches.ledger.export import EXPORTS, Export
from batches.ledger.trail import batch_trail, in_words, user_activity
from batches.models import AuditCheckpoint, Batch
from batches.roles import Domain, Role, require_role
from batches.web import acting_user

TRAIL_ROLES = (Role.AUDITOR, Role.QA_REVIEWER, Role.QUALIFIED_PERSON)
ACTIVITY_ROLES = (Role.AUDITOR,)
ACTIVITY_LIMIT = 1000


def batch_audit_trail(request: HttpRequest, batch_id: int) -> HttpResponse:
    require_role(acting_user(request), *TRAIL_ROLES, action="Reading a batch's audit trail", domain=Domain.RECORDS)
    batch = get_object_or_404(Batch, pk=batch_id)
    entries = batch_trail(batch)
    exports = {name: build(batch, entries) for name, build in EXPORTS.items()}
    context = {
        **admin.site.each_context(request),
        "title": _("Audit trail of batch %(batch)s") % {"batch": batch.batch_number},
        "batch": batch,
        "entries": in_words(entries),
        "exports": exports,
        "checkpoint": AuditCheckpoint.objects.order_by("-pk").first(),
    }
    return TemplateResponse(request, "batches/audit/batch_trail.html", context)


def export_response(export: Export) -> HttpResponse:
    response = HttpResponse(export.content, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["X-Content-SHA256"] = export.sha256
    return response


def batch_audit_export(request: HttpRequest, batch_id: int, fmt: str) -> HttpResponse:
    require_role(acting_user(request), *TRAIL_ROLES, action="Exporting a batch's audit trail", domain=Domain.RECORDS)
    if fmt not in EXPORTS:
        raise Http404(f"No {fmt} export; use csv or json.")
    batch = get_object_or_404(Batch, pk=batch_id)
    return export_response(EXPORTS[fmt](batch, batch_trail(batch)))


def user_audit_activity(request: HttpRequest, user_id: int) -> HttpResponse:
    require_role(acting_user(request), *ACTIVITY_ROLES, action="Reading a user's activity", domain=Domain.RECORDS)
    subject = get_object_or_404(User, pk=user_id)
    entries = user_activity(subject.get_username(), limit=ACTIVITY_LIMIT)
    context = {
        **admin.site.each_context(request),
        "title": _("Activity of %(name)s (%(username)s)")
        % {"name": subject.get_full_name() or subject.get_username(), "username": subject.get_username()},
        "subject": subject,
        "entries": in_words(entries),
        "limit": ACTIVITY_LIMIT,
    }
    return TemplateResponse(request, "batches/audit/user_activity.html", context)
