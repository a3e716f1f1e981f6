"""The page where QC records an environmental monitoring count (signed); an action-level count opens deviations."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext

from batches.admin.inputs_forms import MonitoringResultForm
from batches.models import MonitoringSample
from batches.roles import Role, has_role
from batches.web import acting_user, service_form_view
from qc.services.environment import monitoring_result_record


def monitoring_result(request: HttpRequest, object_id: int) -> HttpResponse:
    if not has_role(request.user, Role.QC_ANALYST):
        raise PermissionDenied(gettext("Recording an environmental monitoring result requires the role QC analyst."))
    sample = MonitoringSample.objects.select_related("session__workstation").filter(pk=object_id).first()
    if sample is None:
        raise Http404(gettext("No such monitoring sample."))
    form = MonitoringResultForm(request.POST or None, signer=acting_user(request))
    return service_form_view(
        request,
        form,
        call=lambda data: monitoring_result_record(
            actor=acting_user(request),
            sample_id=sample.pk,
            cfu=data["cfu"],
            read_at=data["read_at"],
            late_entry_reason=data["late_entry_reason"],
            password=data["password"],
            otp_token=form.one_time_code(),
        ),
        success_url=lambda _: reverse("admin:batches_monitoringsession_changelist"),
        title=gettext("Result of %(sample)s (%(session)s)") % {"sample": sample, "session": sample.session},
        model=MonitoringSample,
        submit=gettext("Sign the result"),
    )
