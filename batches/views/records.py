"""Pages that hand out or summarise records: signed-record downloads (audited), the bag labels (PDF),
the cohort of treated patients."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from batches import cohort, labels
from batches.models import Batch, BatchDocument, Infusion
from batches.release import documents
from batches.roles import BATCH_ROLES, has_role
from batches.web import acting_user


def batch_labels(request: HttpRequest, batch_id: int) -> HttpResponse:
    """The batch's bag labels as a PDF, ready to print."""
    if not has_role(request.user, *BATCH_ROLES):
        raise PermissionDenied(_("Printing labels needs a batch role."))
    batch = get_object_or_404(Batch.objects.select_related("patient", "process_definition"), pk=batch_id)
    try:
        pdf = labels.batch_labels_pdf(batch)
    except ValueError as exc:
        raise Http404(str(exc)) from exc
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="labels-{batch.din}.pdf"'
    return response


def cohort_page(request: HttpRequest) -> TemplateResponse:
    """What the trial reports, computed from the records, with dose against outcome."""
    if not has_role(request.user, *BATCH_ROLES):
        raise PermissionDenied(_("The cohort page needs a batch role."))
    outcomes = cohort.outcomes_from_records()
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": _("Cohort: treated patients and outcomes"),
        "summary": cohort.summarize(outcomes),
        "outcomes": outcomes,
        "plot": cohort.dose_outcome_svg(outcomes),
        "opts": Infusion._meta,
    }
    return TemplateResponse(request, "batches/custody/cohort.html", context)


def document_download(request: HttpRequest, document_id: int) -> HttpResponse | FileResponse:
    """The signed PDF as an attachment; the service checks the role and logs the download."""
    try:
        document, handle = documents.document_download(
            document_id=document_id,
            actor=acting_user(request),
            channel="admin",
        )
    except (PermissionDenied, ValidationError, BatchDocument.DoesNotExist) as exc:
        messages.error(request, str(getattr(exc, "message", exc)))
        return HttpResponseRedirect(reverse("admin:batches_batchdocument_changelist"))
    return FileResponse(handle, as_attachment=True, filename=document.filename, content_type="application/pdf")
