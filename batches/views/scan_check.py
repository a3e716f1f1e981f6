"""The scanner's Enter: one identity field checked on its own, before the rest of the form is filled.

``POST /admin/scan-check/<batch id>/`` with ``point`` (receipt, bedside, bedside_confirmation), ``kind``
(din, wristband) and ``value``; the answer is JSON ``{"ok": ..., "message": ..., "keyed": ...}``. A refused
scan is recorded like any other (a mismatch opens its deviation); ``batches/static/batches/scanner.js``
clears the field and shows the message, or moves to the next field.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from batches.models import Batch
from batches.services.scans import scan_check
from batches.web import acting_user


@require_POST
def scan_check_view(request: HttpRequest, batch_id: int) -> JsonResponse:
    batch = get_object_or_404(Batch, pk=batch_id)
    try:
        result = scan_check(
            actor=acting_user(request),
            batch_id=batch.pk,
            point=request.POST.get("point", ""),
            kind=request.POST.get("kind", ""),
            value=request.POST.get("value", "")[:80],
        )
    except PermissionDenied as refusal:
        return JsonResponse({"ok": False, "message": str(refusal)}, status=403)
    except ValidationError as error:
        return JsonResponse({"ok": False, "message": " ".join(error.messages)}, status=400)
    return JsonResponse({"ok": result.ok, "message": result.message, "keyed": result.keyed})
