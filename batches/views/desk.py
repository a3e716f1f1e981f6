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
from django.views.decorators.http import require_GET

from batches.models import Batch
from batches.release import disposition
from batches.roles import BATCH_ROLES, has_role
from batches.services import custody
from batches.states import BatchStatus
from batches.views.desk_catalogue import DESK_STATES, RELEASED, DeskForm, desk_forms
from batches.views.desk_form import posted_form, submit_form
from batches.views.desk_labels import label_context
from batches.views.live import live_answer, live_context
from batches.web import acting_user

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


def _desk_batch(request: HttpRequest, batch_id: int) -> Batch:
    if not has_role(request.user, *BATCH_ROLES):
        raise PermissionDenied(_("The delivery desk needs a batch role."))
    return get_object_or_404(Batch.objects.select_related("patient", "process_definition"), pk=batch_id)


def delivery_desk(request: HttpRequest, batch_id: int) -> HttpResponse:
    """One page per batch: the forms its state allows, each submit through its service."""
    batch = _desk_batch(request, batch_id)
    available = desk_forms(batch)
    posted: DeskForm | None = None
    if request.method == "POST":
        posted = posted_form(available, request)
        if posted is None:
            messages.error(request, _("That form is not open for this batch now; the page shows what is."))
            return redirect(request.path)
        done = submit_form(request, batch, posted, request.path)
        if done is not None:
            return done
    return _render_desk(request, batch, available, posted)


@require_GET
def desk_live(request: HttpRequest, batch_id: int) -> HttpResponse:
    """The desk's content once someone recorded on the batch since the page was drawn (batches.views.live)."""
    batch = _desk_batch(request, batch_id)
    return live_answer(
        request, batch, lambda: _render_desk(request, batch, desk_forms(batch), None, template=LIVE_TEMPLATE)
    )


PAGE_TEMPLATE = "batches/custody/delivery_desk.html"
LIVE_TEMPLATE = "batches/custody/desk_live.html"


def _render_desk(
    request: HttpRequest,
    batch: Batch,
    available: list[DeskForm],
    posted: DeskForm | None,
    *,
    template: str = PAGE_TEMPLATE,
) -> TemplateResponse:
    # The stamp before anything is read: what is written meanwhile shows at the next update.
    live = live_context(batch, "admin:batches_delivery_desk_live", live=posted is None)
    user = acting_user(request)
    offered = [d for d in available if d is posted or has_role(user, *d.roles)]
    for desk in offered:
        if desk is not posted:
            desk.build(user)
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        **live,
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
        **label_context(batch),
        "adverse_events": batch.adverse_events.order_by("onset_at"),
        "visits": batch.follow_up_visits.order_by("visit_date"),
        "transfers": batch.embryo_transfers.order_by("transfer_date"),
        "batch_url": reverse("admin:batches_batch_change", args=[batch.pk]),
    }
    return TemplateResponse(request, template, context)
