"""Line clearances and monitoring sessions in the admin: the workstation's records, each add form and signed
action calling one service (batches.services.workstations); lists and rows as in batches.admin.inputs."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from batches.admin.common import PasswordForm
from batches.admin.inputs import QA, InputsAdmin, signing_values
from batches.admin.inputs_forms import LineClearanceForm, SessionCloseForm, SessionOpenForm
from batches.models import LineClearance, MonitoringSession
from batches.roles import Role, has_role
from batches.services import workstations
from batches.web import acting_user, service_form_view


@admin.register(LineClearance)
class LineClearanceAdmin(InputsAdmin):
    add_roles = (Role.OPERATOR,)
    list_display = ["__str__", "previous_batch", "performed_by", "verified_by", "verified_at", "links"]
    list_select_related = ["workstation", "previous_batch", "performed_by", "verified_by"]
    list_filter = ["workstation"]
    readonly_fields = [f.name for f in LineClearance._meta.concrete_fields if f.name != "id"]

    def row_links(self, obj: LineClearance, user: Any) -> str:
        if obj.is_verified:
            return gettext("verified")
        if not has_role(user, *QA):
            return gettext("awaiting QA verification")
        url = reverse("admin:batches_lineclearance_verify", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("verify (QA)"))

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self.require(request, (Role.OPERATOR,), gettext("Recording a line clearance"))
        form = LineClearanceForm(request.POST or None, signer=acting_user(request))

        def call(data: dict[str, Any]) -> Any:
            values = {k: v for k, v in data.items() if k not in ("password", "otp_token", "workstation")}
            return workstations.line_clearance_record(
                actor=acting_user(request),
                workstation_id=data["workstation"].pk,
                **values,
                **signing_values(data, form),
            )

        return service_form_view(
            request,
            form,
            call=call,
            success_url=lambda _: self.changelist(LineClearance),
            title=gettext("Record a line clearance"),
            model=LineClearance,
            submit=gettext("Sign the clearance"),
        )

    def verify_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        clearance = self.record(request, object_id)
        self.require(request, QA, gettext("Verifying a line clearance"))
        return self.signed_page(
            request,
            PasswordForm,
            call=lambda values, signing: workstations.line_clearance_verify(
                actor=acting_user(request), clearance_id=clearance.pk, **signing
            ),
            title=gettext("Verify %(clearance)s") % {"clearance": clearance},
            intro=gettext("Previous batch: %(batch)s; performed by %(person)s.")
            % {"batch": clearance.previous_batch or "—", "person": clearance.performed_by},
            original=clearance,
            submit=gettext("Sign the verification"),
        )


@admin.register(MonitoringSession)
class MonitoringSessionAdmin(InputsAdmin):
    add_roles = (Role.OPERATOR,)
    list_display = ["__str__", "opened_by", "closed_at", "samples_read", "links"]
    list_filter = ["workstation"]
    list_select_related = ["workstation", "opened_by"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[MonitoringSession]:
        # Each row counts its samples and links the unread ones: read with the page, not row by row.
        return super().get_queryset(request).prefetch_related("samples")

    readonly_fields = [f.name for f in MonitoringSession._meta.concrete_fields if f.name != "id"]

    @admin.display(description=_("samples (read / taken)"))
    def samples_read(self, obj: MonitoringSession) -> str:
        samples = list(obj.samples.all())
        return f"{sum(1 for s in samples if s.cfu is not None)} / {len(samples)}"

    def row_links(self, obj: MonitoringSession, user: Any) -> str:
        unread = [s for s in obj.samples.all() if s.cfu is None]
        actions = []
        if obj.closed_at is None and has_role(user, Role.OPERATOR):
            actions.append((reverse("admin:batches_monitoringsession_close", args=[obj.pk]), gettext("close")))
        if has_role(user, Role.QC_ANALYST):  # a link to each sample still to be read
            actions += [(reverse("admin:qc_monitoring_result", args=[s.pk]), s.sample_code) for s in unread]
        shown: list[str] = [format_html('<a href="{}">{}</a>', url, text) for url, text in actions]
        if not unread:
            shown.append(gettext("all read"))
        return format_html_join(" · ", "{}", ((part,) for part in shown))

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self.require(request, (Role.OPERATOR,), gettext("Opening a monitoring session"))
        return service_form_view(
            request,
            SessionOpenForm(request.POST or None),
            call=lambda data: workstations.monitoring_session_open(
                actor=acting_user(request),
                workstation_id=data["workstation"].pk,
                opened_at=data["opened_at"],
                samples=data["samples"],
            ),
            success_url=lambda _: self.changelist(MonitoringSession),
            title=gettext("Open an environmental monitoring session"),
            model=MonitoringSession,
        )

    def close_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        session = self.record(request, object_id)
        self.require(request, (Role.OPERATOR,), gettext("Closing a monitoring session"))
        return service_form_view(
            request,
            SessionCloseForm(request.POST or None),
            call=lambda data: workstations.monitoring_session_close(
                actor=acting_user(request), session_id=session.pk, closed_at=data["closed_at"], samples=data["samples"]
            ),
            success_url=lambda _: self.changelist(MonitoringSession),
            title=gettext("Close %(session)s") % {"session": session},
            model=MonitoringSession,
            original=session,
        )
