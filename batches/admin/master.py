"""Master data in the admin: patient enrolment and process definitions (draft, two approvals)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from batches.admin.common import GmpModelAdmin
from batches.admin.forms import ApproveForm, PatientEnrolForm, ProcessDefinitionDraftForm
from batches.models import ApprovalStatus, Patient, ProcessDefinition
from batches.pdf import providers
from batches.roles import Domain, Role, has_role, may_act
from batches.services.master import patient_enrol, process_definition_approve, process_definition_create
from batches.services.steps import STEP_MODELS
from batches.web import SERVICE_ERRORS, acting_user, add_service_error, submitted_once

APPROVER_ROLES = (Role.QA_REVIEWER, Role.QUALIFIED_PERSON)
# Stored as JSON, shown in words on the definition's page (ProcessDefinitionAdmin).
SHOWN_IN_WORDS = {"required_steps": "required_steps_in_words", "limits": "limits_table"}
PATIENT_FIELDS = (
    "subject_code",
    "consent_date",
    "body_weight_kg",
    "eligibility_confirmed",
    "enrolled_by",
    "enrolled_at",
)


@admin.register(Patient)
class PatientAdmin(GmpModelAdmin[Patient]):
    """Pseudonymous subjects only: there is no field for a name or an identity number."""

    add_roles = (Role.OPERATOR, Role.CLINICIAN)
    list_display = ["subject_code", "consent_date", "body_weight_kg", "eligibility_confirmed", "enrolled_at"]
    list_filter = ["eligibility_confirmed"]
    search_fields = ["subject_code"]
    fields = PATIENT_FIELDS
    readonly_fields = PATIENT_FIELDS

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied(_("Enrolling a patient requires the role Operator or Clinician."))
        form = PatientEnrolForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                with submitted_once(request):
                    patient = patient_enrol(actor=acting_user(request), **form.cleaned_data)
            except SERVICE_ERRORS as error:
                add_service_error(form, error)
            else:
                messages.success(request, f"Subject {patient.subject_code} enrolled.")
                # An operator goes on to register the subject's batch; others see the list of patients.
                if may_act(acting_user(request), Role.OPERATOR) and patient.eligibility_confirmed:
                    return redirect(f"{reverse('admin:batches_batch_add')}?patient={patient.pk}")
                return redirect(reverse("admin:batches_patient_changelist"))
        return self.render_service_form(request, form, title=_("Enrol a trial subject"), submit=_("Enrol"))


@admin.register(ProcessDefinition)
class ProcessDefinitionAdmin(GmpModelAdmin[ProcessDefinition]):
    """Drafted through the service; approved by two different people; read-only throughout."""

    add_roles = (Role.QA_REVIEWER, Role.ADMIN)
    add_domain = Domain.MASTER_DATA
    change_form_template = "admin/batches/processdefinition/change_form.html"
    list_display = [
        "__str__",
        "name",
        "status",
        "approvals",
        "gcsf_dose_ug_per_kg",
        "shelf_life_hours",
        "effective_from",
    ]
    list_filter = ["status", "code"]
    search_fields = ["code", "name"]
    # Read-only throughout: the stored JSON of the steps and limits is shown in words, where it stands,
    # as the services read it (the history keeps the JSON as stored).
    readonly_fields = [
        SHOWN_IN_WORDS.get(f.name, f.name) for f in ProcessDefinition._meta.concrete_fields if f.name != "id"
    ]
    fields = tuple(readonly_fields)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        definition = self.get_object(request, object_id)
        can_approve = (
            definition is not None
            and definition.status == ApprovalStatus.DRAFT
            and has_role(acting_user(request), *APPROVER_ROLES)
        )
        extra = {**(extra_context or {}), "can_approve": can_approve}
        return super().change_view(request, object_id, form_url, extra)

    @admin.display(description=gettext_lazy("limits, as the services check them"))
    def limits_table(self, obj: ProcessDefinition) -> str:
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", providers.limit_rows(obj))
        return format_html('<table class="cb-limits">{}</table>', rows)

    @admin.display(description=gettext_lazy("required steps"))
    def required_steps_in_words(self, obj: ProcessDefinition) -> str:
        return ", ".join(
            capfirst(str(STEP_MODELS[step]._meta.verbose_name)) if step in STEP_MODELS else step
            for step in obj.required_steps or []
        )

    @admin.display(description=gettext_lazy("approvals"))
    def approvals(self, obj: ProcessDefinition) -> str:
        return format_html("{} / 2", int(bool(obj.first_approved_by_id)) + int(bool(obj.second_approved_by_id)))

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied(_("Drafting a process definition requires the role QA reviewer or admin."))
        form = ProcessDefinitionDraftForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                with submitted_once(request):
                    definition = process_definition_create(actor=acting_user(request), values=form.cleaned_data)
            except SERVICE_ERRORS as error:
                add_service_error(form, error)
            else:
                messages.success(request, f"{definition} drafted; it needs two approvals before use.")
                return redirect(reverse("admin:batches_processdefinition_change", args=[definition.pk]))
        return self.render_service_form(request, form, title=_("Draft a process definition"), submit=_("Save draft"))

    def approve_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        definition = self.get_object(request, str(object_id))
        if definition is None or not self.has_view_permission(request, definition):
            raise Http404(f"No process definition with id {object_id}.")
        approver = acting_user(request)
        form = ApproveForm(request.POST or None, signer=approver)
        if request.method == "POST" and form.is_valid():
            try:
                with submitted_once(request):
                    definition = process_definition_approve(
                        definition_id=definition.pk,
                        approver=approver,
                        password=form.cleaned_data["password"],
                        otp_token=form.one_time_code(),
                    )
            except SERVICE_ERRORS as error:
                add_service_error(form, error)
                messages.error(request, _("Not approved: see the message below."))
            else:
                messages.success(request, f"{definition}: approval signed; status {definition.get_status_display()}.")
                return redirect(reverse("admin:batches_processdefinition_change", args=[definition.pk]))
        return self.render_service_form(
            request,
            form,
            title=_("Approve %(definition)s") % {"definition": definition},
            obj=definition,
            submit=_("Sign approval"),
        )
