"""Conditional releases (/admin/conditional-releases/): each with the signatures it still lacks, its follow-up
and its certifications, and one signed form per batch offering only the actions open to this user now.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from batches import limits
from batches.admin.common import PasswordForm
from batches.models import Batch, BatchDisposition, Decision, FollowUpStatus, ReleaseFollowUp
from batches.release import conditional, disposition
from batches.roles import has_role
from batches.services.actions import StateAction
from batches.web import READ_ROLES, acting_user, service_form_view
from qc.evaluation import TEST_LABELS, QcTest

ACTIONS: dict[str, StateAction] = {
    a.slug: a
    for a in (conditional.AUTHORISE, conditional.ACKNOWLEDGE, conditional.CLOSE_FOLLOW_UP, conditional.CERTIFY_FINAL)
}
LIST_LIMIT = 200


class ConditionalActionForm(PasswordForm):
    action = forms.ChoiceField(choices=[])
    assessment = forms.CharField(
        max_length=limits.DESCRIPTION,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Closing the follow-up: QA's assessment of the results that were pending."),
    )


def open_follow_ups() -> list[ReleaseFollowUp]:
    """Follow-ups still open, or closed without the QP's final certification yet (oldest first)."""
    finally_certified = BatchDisposition.objects.filter(decision=Decision.CERTIFIED).values("batch_id")
    rows = ReleaseFollowUp.objects.exclude(status=FollowUpStatus.CLOSED, batch_id__in=finally_certified)
    return list(rows.select_related("batch__patient", "disposition").order_by("opened_at")[:LIST_LIMIT])


def conditional_index(request: HttpRequest) -> HttpResponse:
    if not has_role(request.user, *READ_ROLES):
        raise PermissionDenied(gettext("Conditional releases need a CellBatch role."))
    rows = [(f, pending_results(f), disposition.release_outstanding(f.batch)) for f in open_follow_ups()]
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": gettext("Conditional releases: signatures, pending results, final certification"),
        "rows": rows,
        "limit": LIST_LIMIT,
    }
    return TemplateResponse(request, "batches/conditional_index.html", context)


def conditional_batch(request: HttpRequest, batch_id: int) -> HttpResponse:
    """The signed form of one conditionally released batch: authorise, acknowledge, close, certify finally."""
    if not has_role(request.user, *READ_ROLES):
        raise PermissionDenied(gettext("Conditional releases need a CellBatch role."))
    batch = Batch.objects.filter(pk=batch_id, release_followup__isnull=False).first()
    if batch is None:
        raise Http404(gettext("No conditional release of that batch."))
    user = acting_user(request)
    form = ConditionalActionForm(request.POST or None, signer=user)
    offered = [(slug, gettext(a.label)) for slug, a in ACTIONS.items() if a.offered(batch, user)]
    choice = form.fields["action"]
    if isinstance(choice, forms.ChoiceField):
        every = [(slug, gettext(a.label)) for slug, a in ACTIONS.items()]
        choice.choices = [("", gettext("Choose…")), *(offered or every)]

    def call(data: dict[str, Any]) -> Any:
        common = {"actor": user, "batch_id": batch.pk, "password": data["password"], "otp_token": form.one_time_code()}
        if data["action"] == conditional.CLOSE_FOLLOW_UP.slug:
            return conditional.followup_close(**common, reason=data["assessment"])
        return ACTIONS[data["action"]].service(**common)

    outstanding = disposition.release_outstanding(batch)
    return service_form_view(
        request,
        form,
        call=call,
        success_url=lambda _: reverse("admin:batches_conditional_index"),
        title=gettext("Conditional release of batch %(batch_number)s") % {"batch_number": batch.batch_number},
        model=Batch,
        original=batch,
        submit=gettext("Sign"),
        intro=gettext(
            "Status: %(status)s. Still missing: %(missing)s. Pending results: %(pending)s; follow-up %(follow_up)s."
        )
        % {
            "status": batch.get_status_display(),
            "missing": ", ".join(outstanding) or gettext("nothing"),
            "pending": pending_results(batch.release_followup) or gettext("none"),
            "follow_up": batch.release_followup.get_status_display().lower(),
        },
    )


def pending_results(followup: ReleaseFollowUp) -> str:
    """The tests a conditional release left pending, named in the reader's language (stored as codes)."""
    return ", ".join(gettext(TEST_LABELS[QcTest(test)]) for test in followup.pending_tests)
