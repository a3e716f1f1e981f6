"""The batch list and registration form; the batch page itself (at the change page's address) is
batches.views.batch_page, mounted by the admin site."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from batches.admin.common import GmpModelAdmin
from batches.admin.forms import RegisterBatchForm, register_initial
from batches.admin.pagination import EstimatedCountPaginator
from batches.models import Batch
from batches.roles import Role
from batches.selectors import batches_matching
from batches.services.batch import batch_register
from batches.states import BatchStatus
from batches.web import SERVICE_ERRORS, acting_user, add_service_error, submitted_once


def state_badge(status: str) -> str:
    return format_html('<span class="cb-badge cb-state-{}">{}</span>', status, _(BatchStatus(status).label))


@admin.register(Batch)
class BatchAdmin(GmpModelAdmin[Batch]):
    add_roles = (Role.OPERATOR,)
    list_display = ["batch_number", "subject_code", "state", "process_definition", "status_changed_at", "din"]
    list_filter = ["status", "process_definition"]
    # Prefix search (istartswith): served by the batch number and subject code prefix indexes.
    search_fields = ["^batch_number", "^patient__subject_code"]
    list_select_related = ["patient", "process_definition"]
    ordering = ["-registered_at"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Batch], search_term: str
    ) -> tuple[QuerySet[Batch], bool]:
        for term in search_term.split():
            queryset = batches_matching(queryset, term)
        return queryset, False

    @admin.display(description=gettext_lazy("subject code"), ordering="patient__subject_code")
    def subject_code(self, obj: Batch) -> str:
        return obj.patient.subject_code

    @admin.display(description=gettext_lazy("state"), ordering="status")
    def state(self, obj: Batch) -> str:
        return state_badge(obj.status)

    # --- Pages ---------------------------------------------------------------------------------

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Register a batch: an eligible patient under an approved process definition."""
        if not self.has_add_permission(request):
            raise PermissionDenied(_("Registering a batch requires the role Operator."))
        # The patient just enrolled, and the one approved definition, are chosen already.
        form = RegisterBatchForm(request.POST or None, initial=register_initial(request))
        if request.method == "POST" and form.is_valid():
            try:
                with submitted_once(request):
                    batch = batch_register(
                        actor=acting_user(request),
                        patient_id=form.cleaned_data["patient"].pk if form.cleaned_data["patient"] else None,
                        new_patient=form.new_patient(),
                        process_definition_id=form.cleaned_data["process_definition"].pk,
                        start_mobilization=form.cleaned_data["start_mobilization"],
                    )
            except SERVICE_ERRORS as error:
                add_service_error(form, error)
            else:
                messages.success(request, _("Batch %(batch)s registered.") % {"batch": batch.batch_number})
                return redirect(reverse("admin:batches_batch_change", args=[batch.pk]))
        return self.render_service_form(request, form, title=_("Register a batch"), submit=_("Register batch"))
