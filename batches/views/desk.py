"""The delivery desk (/admin/delivery-desk/): the batches it can work on, and one page per batch with the
custody, delivery and follow-up forms its state allows (batches.views.desk_catalogue).

Each form parses the arguments of one service and calls it; the service decides. A refusal shows on the
form, with what was typed, and changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from batches.admin import desk_forms as f
from batches.models import Batch
from batches.release import disposition
from batches.release.labelling import PrintedLabels, label_counts
from batches.roles import BATCH_ROLES, has_role
from batches.services import custody
from batches.states import BatchStatus
from batches.views.desk_catalogue import DESK_STATES, RELEASED, DeskForm, desk_forms
from batches.web import SERVICE_ERRORS, acting_user, add_service_error, submitted_once

S = BatchStatus


def desk_index(request: HttpRequest) -> HttpResponse:
    """The batches the desk can work on, grouped by state, each with a link to its desk page."""
    if not has_role(request.user, *BATCH_ROLES):
        raise PermissionDenied(_("The delivery desk needs a batch role."))
    order = {state: i for i, state in enumerate(DESK_STATES)}
    batches = sorted(
        Batch.objects.filter(status__in=DESK_STATES).select_related("patient"),
        key=lambda b: (order[BatchStatus(b.status)], b.batch_number),
    )
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": _("Delivery desk"),
        "batches": batches,
    }
    return TemplateResponse(request, "batches/custody/desk_index.html", context)


def _posted(available: list[DeskForm], request: HttpRequest) -> DeskForm | None:
    """The open form the POST is for; a per-record form is matched on the record it names."""
    action = request.POST.get("action", "")
    candidates = [d for d in available if d.action == action]
    target = request.POST.get("custody_event") or request.POST.get("transfer") or ""
    if target:
        return next((d for d in candidates if str(d.target) == target), None)
    return candidates[0] if len(candidates) == 1 else None


def _submit(request: HttpRequest, batch: Batch, desk: DeskForm) -> HttpResponse | None:
    """Call the form's service; a redirect on success, None (the form carries the refusal) otherwise."""
    user = acting_user(request)
    form = desk.build(user, request.POST, request.FILES)
    if not has_role(user, *desk.roles):
        names = ", ".join(role.label for role in desk.roles)
        form.add_error(
            None,
            _("%(form)s requires the role %(roles)s; nothing was recorded.") % {"form": desk.title, "roles": names},
        )
    elif form.is_valid():
        data = f.cleaned(form)
        # A per-record form acts on the record of this batch it was matched to, whatever else was posted.
        if desk.action in ("receive", "receipt_scan"):
            data["custody_event"] = desk.target
        elif desk.action == "outcome":
            data["transfer"] = desk.target
        try:
            with submitted_once(request):
                result = desk.call(user, batch, data)
        except SERVICE_ERRORS as error:
            add_service_error(form, error)
        else:
            if isinstance(result, PrintedLabels):  # the labels go to the printer now, once
                response = HttpResponse(result.content, content_type=result.content_type)
                response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
                return response
            done = _("Recorded and signed. (%(form)s)") if desk.signs else _("Recorded. (%(form)s)")
            messages.success(request, done % {"form": desk.title})

            return redirect(request.path)
    messages.error(request, _("Nothing was recorded: see the form below."))
    return None


def delivery_desk(request: HttpRequest, batch_id: int) -> HttpResponse:
    """One page per batch: the forms its state allows, each submit through its service."""
    if not has_role(request.user, *BATCH_ROLES):
        raise PermissionDenied(_("The delivery desk needs a batch role."))
    batch = get_object_or_404(Batch.objects.select_related("patient", "process_definition"), pk=batch_id)
    available = desk_forms(batch)
    posted: DeskForm | None = None
    if request.method == "POST":
        posted = _posted(available, request)
        if posted is None:
            messages.error(request, _("That form is not open for this batch now; the page shows what is."))
            return redirect(request.path)
        done = _submit(request, batch, posted)
        if done is not None:
            return done
    user = acting_user(request)
    offered = [d for d in available if d is posted or has_role(user, *d.roles)]
    for desk in offered:
        if desk is not posted:
            desk.build(user)
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": _("Delivery desk · batch %(batch)s") % {"batch": batch.batch_number},
        "batch": batch,
        "expires_at": custody.expires_at(batch),
        # Shelf life matters until the product is infused, rejected or cancelled.
        "expiry_applies": batch.status not in (S.INFUSED, S.CLOSED, S.REJECTED, S.CANCELLED),
        "outstanding": disposition.release_outstanding(batch) if batch.status in RELEASED else [],
        "main_forms": [d for d in offered if not d.occasional],
        "occasional_forms": [d for d in offered if d.occasional],
        "hidden_count": len(available) - len(offered),
        "custody_events": batch.custody_events.select_related("handed_over_by", "received_by").order_by(
            "handed_over_at"
        ),
        "scans": batch.identity_scans.select_related("scanned_by", "override_by").order_by("-scanned_at")[:20],
        "labels": batch.labels.select_related("print_event__printed_by").order_by("label_id"),
        "label_counts": label_counts(batch),
        "reconciliations": batch.label_reconciliations.select_related("reconciled_by"),
        "adverse_events": batch.adverse_events.order_by("onset_at"),
        "visits": batch.follow_up_visits.order_by("visit_date"),
        "transfers": batch.embryo_transfers.order_by("transfer_date"),
        "batch_url": reverse("admin:batches_batch_change", args=[batch.pk]),
    }
    return TemplateResponse(request, "batches/custody/delivery_desk.html", context)
