"""The one admin site of CellBatch: its index draws each role's home, its URL list names every custom page.

Installed as Django's default site by config.apps.CellBatchAdminConfig, so ``admin.site`` and
``@admin.register`` in the apps mean this site. Every page that is not a model's own list or form is
listed in ``custom_urls`` below, with its view in a views module of its app (or, for a signed action on
one record, the method of that record's ModelAdmin). Old addresses that users may have bookmarked
redirect to the new ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView


def moved(url_name: str) -> Callable[..., HttpResponseBase]:
    """A permanent redirect from an old address to the page now called ``url_name`` (same arguments)."""

    def view(request: HttpRequest, **kwargs: Any) -> HttpResponseBase:
        target = reverse(f"admin:{url_name}", kwargs=kwargs)
        query = request.META.get("QUERY_STRING", "")
        return RedirectView.as_view(url=f"{target}?{query}" if query else target, permanent=True)(request)

    return view


class CellBatchAdminSite(admin.AdminSite):
    site_header = _("CellBatch · electronic batch records")
    site_title = _("CellBatch")
    index_title = _("Batch records")

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        """The usual app list, with the cards of the user's roles ("your work") above it."""
        from batches.admin.home import role_home

        context = {**(extra_context or {}), "role_home": role_home(request, self)}
        return super().index(request, extra_context=context)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        # Custom pages first: the model admins' own patterns end in catch-alls.
        return [*self.custom_urls(), *super().get_urls()]

    def model_view(self, model: type[Model], method: str) -> Callable[..., HttpResponse]:
        """A signed action on one record, served by that record's ModelAdmin (role-checked there)."""
        view: Callable[..., HttpResponse] = getattr(self._registry[model], method)
        return self.admin_view(view)

    def custom_urls(self) -> list[URLPattern]:
        from django.contrib.auth.models import User

        from batches.models import (
            DocumentVersion,
            Equipment,
            LineClearance,
            MaterialLot,
            MonitoringSession,
            PatientImport,
            ProcessDefinition,
            TrainingRecord,
        )
        from batches.views import (
            audit,
            batch_page,
            batch_steps,
            conditional,
            desk,
            language,
            people,
            queues,
            records,
            scan_check,
        )
        from qc.models import Deviation, OosInvestigation, QcResult, ReportabilityAssessment, Specification
        from qc.views import environment, review, sample

        page = self.admin_view
        batch = "batches/batch/<int:object_id>"
        return [
            # The batch page (at its change page's address) and its forms: record, verify and correct a step;
            # change the batch's state.
            path(f"{batch}/change/", page(batch_page.batch_page), name="batches_batch_change"),
            # What others recorded since the page was drawn (the page updates itself; batches.views.live).
            path(f"{batch}/live/", page(batch_page.batch_live), name="batches_batch_live"),
            # The desk's labelling forms, offered on the batch page too (batches.views.desk_labels).
            path(f"{batch}/labelling/", page(batch_page.batch_labelling), name="batches_batch_labelling"),
            path(f"{batch}/record/<str:kind>/", page(batch_steps.record_step), name="batches_batch_record"),
            path(
                f"{batch}/verify/<str:kind>/<int:step_id>/",
                page(batch_steps.verify_step),
                name="batches_batch_verify",
            ),
            path(
                f"{batch}/correct/<str:kind>/<int:step_id>/",
                page(batch_steps.correct_step),
                name="batches_batch_correct",
            ),
            path(f"{batch}/transition/<str:action>/", page(batch_steps.transition), name="batches_batch_transition"),
            path(
                f"{batch}/record-gcsf-days/", page(batch_steps.record_gcsf_days), name="batches_batch_record_gcsf_days"
            ),
            path(
                f"{batch}/verify-gcsf-days/", page(batch_steps.verify_gcsf_days), name="batches_batch_verify_gcsf_days"
            ),
            # Audit trail pages and exports.
            path("batches/batch/<int:batch_id>/audit/", page(audit.batch_audit_trail), name="batches_batch_audit"),
            path(
                "batches/batch/<int:batch_id>/audit.<str:fmt>",
                page(audit.batch_audit_export),
                name="batches_batch_audit_export",
            ),
            path("audit/user/<int:user_id>/", page(audit.user_audit_activity), name="audit_user_activity"),
            # Records handed out: signed PDFs (audited downloads), bag labels, the cohort summary.
            path(
                "batches/batchdocument/<int:document_id>/download/",
                page(records.document_download),
                name="batches_batchdocument_download",
            ),
            path("batches/batch/<int:batch_id>/labels/", page(records.batch_labels), name="batch_labels"),
            path("cohort/", page(records.cohort_page), name="batches_cohort"),
            # Each role's work queues.
            path("queue/<slug:slug>/", page(queues.work_queue), name="work_queue"),
            # The delivery desk.
            path("delivery-desk/", page(desk.desk_index), name="batches_delivery_desk_index"),
            path("delivery-desk/<int:batch_id>/", page(desk.delivery_desk), name="batches_delivery_desk"),
            path("delivery-desk/<int:batch_id>/live/", page(desk.desk_live), name="batches_delivery_desk_live"),
            # Conditional releases: the medical director's and physician's signatures, follow-up, final certification.
            path("conditional-releases/", page(conditional.conditional_index), name="batches_conditional_index"),
            path(
                "conditional-releases/<int:batch_id>/",
                page(conditional.conditional_batch),
                name="batches_conditional_batch",
            ),
            path("scan-check/<int:batch_id>/", page(scan_check.scan_check_view), name="batches_scan_check"),
            # The QA review.
            path("qa-review/", page(review.review_index), name="qc_review_index"),
            path("qa-review/<int:batch_id>/", page(review.review_page), name="qc_review_batch"),
            # Signed actions on one record.
            path(
                "batches/processdefinition/<int:object_id>/approve/",
                self.model_view(ProcessDefinition, "approve_view"),
                name="batches_processdefinition_approve",
            ),
            path(
                "qc/specification/<int:pk>/approve/",
                self.model_view(Specification, "approve_view"),
                name="qc_specification_approve",
            ),
            path(
                "batches/patientimport/<int:object_id>/sign-off/",
                self.model_view(PatientImport, "sign_off_view"),
                name="batches_patientimport_sign_off",
            ),
            path("qc/qcresult/<int:pk>/review/", self.model_view(QcResult, "review_view"), name="qc_qcresult_review"),
            # A QC sample's results: recorded in one signed act, reviewed in one signed act.
            path("qc/qcsample/<int:pk>/results/", page(sample.sample_results), name="qc_sample_results"),
            path("qc/batch/<int:batch_id>/results/", page(sample.batch_results), name="qc_batch_results"),
            path(
                "qc/deviation/<int:pk>/investigation/",
                self.model_view(Deviation, "update_view"),
                name="qc_deviation_update",
            ),
            path("qc/deviation/<int:pk>/close/", self.model_view(Deviation, "close_view"), name="qc_deviation_close"),
            # Materials, equipment and workstations: QA's signed decisions, records, recalls and use logs.
            path(
                "batches/materiallot/<int:object_id>/decide/",
                self.model_view(MaterialLot, "decide_view"),
                name="batches_materiallot_decide",
            ),
            path(
                "batches/materiallot/<int:object_id>/recall/",
                self.model_view(MaterialLot, "recall_view"),
                name="batches_materiallot_recall",
            ),
            path(
                "batches/equipment/<int:object_id>/record/",
                self.model_view(Equipment, "record_view"),
                name="batches_equipment_record",
            ),
            path(
                "batches/equipment/<int:object_id>/decide/",
                self.model_view(Equipment, "decide_view"),
                name="batches_equipment_decide",
            ),
            path(
                "batches/equipment/<int:object_id>/uses/",
                self.model_view(Equipment, "uses_view"),
                name="batches_equipment_uses",
            ),
            path(
                "batches/lineclearance/<int:object_id>/verify/",
                self.model_view(LineClearance, "verify_view"),
                name="batches_lineclearance_verify",
            ),
            path(
                "batches/monitoringsession/<int:object_id>/close/",
                self.model_view(MonitoringSession, "close_view"),
                name="batches_monitoringsession_close",
            ),
            path(
                "batches/monitoringsample/<int:object_id>/result/",
                page(environment.monitoring_result),
                name="qc_monitoring_result",
            ),
            path(
                "qc/deviation/<int:pk>/reclassify/",
                self.model_view(Deviation, "reclassify_view"),
                name="qc_deviation_reclassify",
            ),
            path(
                "qc/oosinvestigation/<int:pk>/record/",
                self.model_view(OosInvestigation, "record_view"),
                name="qc_oosinvestigation_record",
            ),
            path(
                "qc/oosinvestigation/<int:pk>/approve-retest/",
                self.model_view(OosInvestigation, "approve_view"),
                name="qc_oosinvestigation_approve",
            ),
            path(
                "qc/oosinvestigation/<int:pk>/close/",
                self.model_view(OosInvestigation, "close_view"),
                name="qc_oosinvestigation_close",
            ),
            path(
                "qc/reportabilityassessment/<int:pk>/assess/",
                self.model_view(ReportabilityAssessment, "assess_view"),
                name="qc_reportabilityassessment_assess",
            ),
            path(
                "qc/reportabilityassessment/<int:pk>/submit/",
                self.model_view(ReportabilityAssessment, "submit_view"),
                name="qc_reportabilityassessment_submit",
            ),
            # Accounts: one's own language and authenticator app, and deactivating an account.
            path("account/language/", page(language.language_page), name="account_language"),
            path(
                "auth/user/authenticator/",
                self.model_view(User, "authenticator_view"),
                name="account_authenticator",
            ),
            path(
                "auth/user/<int:user_id>/deactivate/",
                self.model_view(User, "deactivate_view"),
                name="account_deactivate",
            ),
            # People: the training matrix (and its export) and the periodic access review.
            path("training-matrix/", page(people.training_matrix_page), name="batches_training_matrix"),
            path("training-matrix.csv", page(people.training_matrix_export), name="batches_training_matrix_export"),
            path("access-review/", page(people.access_review_page), name="batches_access_review"),
            path(
                "batches/documentversion/<int:pk>/approve/",
                self.model_view(DocumentVersion, "approve_view"),
                name="batches_documentversion_approve",
            ),
            path(
                "batches/trainingrecord/<int:pk>/sign/",
                self.model_view(TrainingRecord, "acknowledge_view"),
                name="batches_trainingrecord_acknowledge",
            ),
            # Addresses of earlier versions, kept working for bookmarks.
            path("batches/bedsidecheck/desk/", moved("batches_delivery_desk_index")),
            path("batches/bedsidecheck/desk/<int:batch_id>/", moved("batches_delivery_desk")),
            path("qc/review/", moved("qc_review_index")),
            path("qc/review/<int:batch_id>/", moved("qc_review_batch")),
            path("qc/review/<int:batch_id>/change/", moved("qc_review_batch")),
            path("batches/custodyevent/labels/<int:batch_id>/", moved("batch_labels")),
            path("batches/infusion/cohort/", moved("batches_cohort")),
        ]
