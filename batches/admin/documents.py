"""Admin of batch records: status while building, audited download, a new revision on request."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from batches.admin.links import DOCUMENTS, LinkList, register_batch_links
from batches.models import Batch, BatchDocument, DocumentDownload, DocumentKind, DocumentStatus
from batches.roles import Role, has_role
from batches.services import documents

READER_ROLES = (Role.QA_REVIEWER, Role.QUALIFIED_PERSON, Role.AUDITOR)


def document_links(batch: Batch) -> LinkList:
    """Every revision of the batch's signed records (a download link once signed), then the full list."""
    links: LinkList = []
    for document in batch.documents.order_by("kind", "-revision"):
        label = f"{document.get_kind_display()}, revision {document.revision}"
        if document.status == DocumentStatus.SIGNED:
            url = reverse("admin:batches_batchdocument_download", args=[document.pk])
            links.append((f"{label} (signed PDF)", url))
        else:
            url = reverse("admin:batches_batchdocument_change", args=[document.pk])
            links.append((f"{label} ({document.get_status_display().lower()})", url))
    changelist = reverse("admin:batches_batchdocument_changelist")
    links.append(("All records and downloads of this batch", f"{changelist}?batch__id__exact={batch.pk}"))
    return links


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

    def has_view_permission(self, request: HttpRequest, obj: BatchDocument | None = None) -> bool:
        # Readers of batch records are known by their GMP role, not by per-model Django permissions.
        return has_role(request.user, *READER_ROLES) or super().has_view_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return has_role(request.user, *READER_ROLES) or super().has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: BatchDocument | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: BatchDocument | None = None) -> bool:
        return False

    @admin.display(description="PDF")
    def download_link(self, obj: BatchDocument) -> str:
        if obj.status == DocumentStatus.SIGNED:
            url = reverse("admin:batches_batchdocument_download", args=[obj.pk])
            return format_html('<a href="{}">Download</a>', url)
        if obj.status == DocumentStatus.FAILED:
            return format_html("failed: {}", obj.failure_reason)
        return f"{obj.get_status_display().lower()}…"

    def get_urls(self) -> list[URLPattern]:
        download = path(
            "<int:document_id>/download/",
            self.admin_site.admin_view(self.download_view),
            name="batches_batchdocument_download",
        )
        return [download, *super().get_urls()]

    def download_view(self, request: HttpRequest, document_id: int) -> HttpResponse | FileResponse:
        try:
            document, handle = documents.document_download(
                document_id=document_id,
                actor=request.user,  # type: ignore[arg-type]
                channel="admin",
            )
        except (PermissionDenied, ValidationError, BatchDocument.DoesNotExist) as exc:
            self.message_user(request, str(getattr(exc, "message", exc)), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:batches_batchdocument_changelist"))
        return FileResponse(handle, as_attachment=True, filename=document.filename, content_type="application/pdf")

    @admin.action(description="Issue a new revision of the batch record (on request)")
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
            self.message_user(request, f"{document} queued; refresh to see it signed.", messages.SUCCESS)


register_batch_links(section=DOCUMENTS, name="batch documents", links=document_links, roles=READER_ROLES)


@admin.register(DocumentDownload)
class DocumentDownloadAdmin(admin.ModelAdmin):
    list_display = ["document", "user", "channel", "at"]
    list_select_related = ["document__batch", "user"]
    readonly_fields = ["document", "user", "channel", "at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: DocumentDownload | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: DocumentDownload | None = None) -> bool:
        return False
