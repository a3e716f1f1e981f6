"""Work queues: the items waiting for each role, each with the link that opens exactly that item.

The role home (batches.admin.home) shows each queue's count and its first items; the queue page
(/admin/queue/<slug>/, batches.views.queues) lists them all. Pure reading: nothing here writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from batches.admin.workflow import step_title
from batches.models import Batch, BatchDocument, Decision, DocumentStatus
from batches.release.disposition import release_outstanding
from batches.roles import Role
from batches.services.steps import STEP_MODELS
from batches.states import STEP_STATE, BatchStatus
from qc.selectors import latest_sample, release_gate, samples_awaiting_review

S = BatchStatus


@dataclass(frozen=True)
class QueueItem:
    title: str
    detail: str
    url: str


@dataclass(frozen=True)
class Queue:
    slug: str
    label: Any  # a lazily translated label
    roles: tuple[Role, ...]
    items: Callable[[], list[QueueItem]]


def _batch_url(batch: Batch, anchor: str = "") -> str:
    url = reverse("admin:batches_batch_change", args=[batch.pk])
    return f"{url}#{anchor}" if anchor else url


def _desk_url(batch: Batch) -> str:
    return reverse("admin:batches_delivery_desk", args=[batch.pk])


def _review_url(batch: Batch) -> str:
    return reverse("admin:qc_review_batch", args=[batch.pk])


def steps_to_verify() -> list[QueueItem]:
    """Recorded, unverified steps of batches still in that step's state (G-CSF days: one item per batch)."""
    items = []
    for kind, model in STEP_MODELS.items():
        manager: Any = model._default_manager  # every concrete step has a batch
        steps = (
            manager.filter(verified_by__isnull=True, batch__status=STEP_STATE[kind])
            .select_related("batch", "performed_by")
            .order_by("batch__batch_number", "performed_at")
        )
        by_batch: dict[Batch, list[str]] = {}
        for step in steps:
            by_batch.setdefault(step.batch, []).append(step_title(step))
        for batch, titles in by_batch.items():
            items.append(
                QueueItem(f"{batch.batch_number}: {', '.join(titles)}", "", _batch_url(batch, f"section-{kind}"))
            )
    return items


def results_to_review() -> list[QueueItem]:
    return [
        QueueItem(
            f"{sample.batch.batch_number}: {sample.sample_code}",
            ngettext("%(n)s result to review", "%(n)s results to review", count) % {"n": count},
            reverse("admin:qc_sample_results", args=[sample.pk]),
        )
        for sample, count in samples_awaiting_review()
    ]


def results_to_record() -> list[QueueItem]:
    """Batches in quarantine with release tests still without a result: their latest sample, or a new one."""
    items = []
    for batch in Batch.objects.filter(status=S.QUARANTINE).order_by("batch_number"):
        missing = [t.label for t in release_gate(batch).tests if t.result is None and t.limit.blocks_release]
        if not missing:
            continue
        sample = latest_sample(batch)
        url = (
            reverse("admin:qc_sample_results", args=[sample.pk])
            if sample
            else reverse("admin:qc_batch_results", args=[batch.pk])
        )
        detail = (
            _("sample %(code)s: ") % {"code": sample.sample_code} if sample else _("no sample yet: ")
        ) + ", ".join(missing)
        items.append(QueueItem(batch.batch_number, detail, url))
    return items


def batches_to_decide() -> list[QueueItem]:
    items = []
    for batch in Batch.objects.filter(status=S.QUARANTINE).order_by("batch_number"):
        gate = release_gate(batch)
        waiting = [t.label for t in gate.tests if t.limit.blocks_release and not (t.result and t.result.is_verified)]
        detail = _("waiting for %(tests)s") % {"tests": ", ".join(waiting)} if waiting else _("ready for a decision")
        items.append(QueueItem(batch.batch_number, detail, _review_url(batch)))
    return items


def batches_to_certify() -> list[QueueItem]:
    batches = (
        Batch.objects.filter(
            # QA's decision leaves a batch awaiting the QP's certification (the QP releases it for administration).
            status__in=[S.AWAITING_CERTIFICATION, S.RELEASED, S.CONDITIONALLY_RELEASED],
            process_definition__requires_qp_certification=True,
        )
        .exclude(dispositions__decision=Decision.CERTIFIED)
        .order_by("batch_number")
    )
    return [QueueItem(b.batch_number, b.get_status_display(), _review_url(b)) for b in batches]


def batches_to_dispatch() -> list[QueueItem]:
    batches = Batch.objects.filter(status__in=[S.RELEASED, S.CONDITIONALLY_RELEASED]).select_related(
        "process_definition"
    )
    return [
        QueueItem(b.batch_number, b.get_status_display(), _desk_url(b))
        for b in batches.order_by("batch_number")
        if not release_outstanding(b)
    ]


def products_arriving() -> list[QueueItem]:
    """Products on their way to the clinic or waiting there: receive, check at the bedside, infuse."""
    batches = Batch.objects.filter(status__in=[S.RELEASED, S.CONDITIONALLY_RELEASED, S.DISPATCHED])
    return [
        QueueItem(f"{b.batch_number} · {b.patient.subject_code}", b.get_status_display(), _desk_url(b))
        for b in batches.select_related("patient").order_by("batch_number")
    ]


def batches_to_close() -> list[QueueItem]:
    batches = Batch.objects.filter(status__in=[S.INFUSED, S.REJECTED]).order_by("batch_number")
    return [QueueItem(b.batch_number, b.get_status_display(), _desk_url(b)) for b in batches]


RECORDS_LISTED = 50


def signed_records() -> list[QueueItem]:
    """The newest signed batch records, each linking to its (audited) download."""
    documents = (
        BatchDocument.objects.filter(status=DocumentStatus.SIGNED)
        .select_related("batch")
        .order_by("-signed_at")[:RECORDS_LISTED]
    )
    return [
        QueueItem(
            f"{d.batch.batch_number} · {d.get_kind_display()} rev. {d.revision}",
            _("signed %(when)s") % {"when": timezone.localtime(d.signed_at).strftime("%Y-%m-%d %H:%M %Z")},
            reverse("admin:batches_batchdocument_download", args=[d.pk]),
        )
        for d in documents
    ]


QUEUES = {
    queue.slug: queue
    for queue in (
        Queue("verify-steps", gettext_lazy("Steps to verify"), (Role.VERIFIER,), steps_to_verify),
        Queue("review-results", gettext_lazy("QC results to review"), (Role.VERIFIER,), results_to_review),
        Queue("record-results", gettext_lazy("QC results to record"), (Role.QC_ANALYST,), results_to_record),
        Queue("decide", gettext_lazy("Batches awaiting a QA decision"), (Role.QA_REVIEWER,), batches_to_decide),
        Queue("certify", gettext_lazy("Batches to certify"), (Role.QUALIFIED_PERSON,), batches_to_certify),
        Queue("dispatch", gettext_lazy("Products to dispatch"), (Role.OPERATOR,), batches_to_dispatch),
        Queue("arriving", gettext_lazy("Products arriving"), (Role.CLINICIAN,), products_arriving),
        Queue("close", gettext_lazy("Batches to close"), (Role.QA_REVIEWER,), batches_to_close),
        Queue(
            "records",
            gettext_lazy("Signed batch records, newest first"),
            (Role.AUDITOR, Role.QA_REVIEWER, Role.QUALIFIED_PERSON),
            signed_records,
        ),
    )
}
