"""Admin of batch records: status while building, audited download, a new revision on request."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from batches.models import BatchDocument, DocumentKind, DocumentStatus
from batches.models.documents import UNFINISHED
from batches.release import documents
from batches.roles import Role, has_role

REFRESH_SECONDS = 3
READER_ROLES = (Role.QA_REVIEWER, Role.QUALIFIED_PERSON, Role.AUDITOR)
# Issuing a revision on request is QA's and the QP's; the auditor reads and downloads, and creates nothing.
ISSUER_ROLES = (Role.QA_REVIEWER, Role.QUALIFIED_PERSON)


@admin.register(BatchDocument)
class BatchDocumentAdmin(admin.ModelAdmin):
    # The download comes right after the status, so it stays in view beside the filter panel.
    list_display = ["batch", "kind", "revision", "status", "download_link", "signed_at", "page_count", "size_bytes"]
    list_filter = ["status", "kind"]
    list_select_related = ["batch"]
    search_fields = ["batch__batch_number", "sha256"]
    exclude = ["snapshot"]
    readonly_fields = [f.name for f in BatchDocument._meta.concrete_fields if f.name != "snapshot"] + ["download_link"]
    actions = ["request_new_revision"]
    change_list_template = "admin/batches/batchdocument/change_list.html"

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        """While a record is queued or building, the list refreshes itself (no manual reload to see it signed)."""
        building = BatchDocument.objects.filter(status__in=UNFINISHED).count()
        context = {**(extra_context or {}), "building": building, "refresh_seconds": REFRESH_SECONDS}
        return super().changelist_view(request, extra_context=context)

    def has_view_permission(self, request: HttpRequest, obj: BatchDocument | None = None) -> bool:
        # Readers of batch records are known by their GMP role, not by per-model Django permissions.
        return has_role(request.user, *READER_ROLES) or super().has_view_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return has_role(request.user, *READER_ROLES) or super().has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return super().get_actions(request) if has_role(request.user, *ISSUER_ROLES) else {}

    def has_change_permission(self, request: HttpRequest, obj: BatchDocument | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: BatchDocument | None = None) -> bool:
        return False

    @admin.display(description=gettext_lazy("PDF"))
    def download_link(self, obj: BatchDocument) -> str:
        if obj.status == DocumentStatus.SIGNED:
            url = reverse("admin:batches_batchdocument_download", args=[obj.pk])
            return format_html('<a href="{}">{}</a>', url, _("Download"))
        if obj.status == DocumentStatus.FAILED:
            return _("failed: %(reason)s") % {"reason": obj.failure_reason}
        return f"{obj.get_status_display().lower()}…"

    @admin.action(description=gettext_lazy("Issue a new revision of the batch record (on request)"))
    def request_new_revision(self, request: HttpRequest, queryset: QuerySet[BatchDocument]) -> None:
        for batch in {d.batch for d in queryset.select_related("batch")}:
            try:
                document = documents.document_request(
                    batch=batch,
                    kind=DocumentKind.ON_REQUEST,
                    actor=request.user,  # type: ignore[arg-type]
                    reason="requested from the admin",
                )
            except (PermissionDenied, ValidationError) as exc:
                self.message_user(
                    request, f"{batch}: {'; '.join(getattr(exc, 'messages', [str(exc)]))}", messages.ERROR
                )
                continue
            self.message_user(
                request,
                _("%(document)s queued; this list refreshes itself until it is signed.") % {"document": document},
                messages.SUCCESS,
            )
