"""The links on the batch page, section by section: every page about one batch, listed here once.

Each link names the roles that may follow it and, where it applies only in some states, when; a section
with nothing for this user in this state is shown empty. Pages of the QC app are linked by their URL
names, so nothing here imports QC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from batches.models import Batch, DocumentStatus
from batches.roles import BATCH_ROLES, Role, has_role
from batches.states import BatchStatus
from batches.views.audit import TRAIL_ROLES
from batches.views.desk_catalogue import DESK_STATES

AUDIT_TRAIL = _("Audit trail")
DOCUMENTS = _("Documents")
QA_REVIEW = _("QA review")
DELIVERY = _("Custody and delivery")

LinkList = list[tuple[str, str]]
DOCUMENT_ROLES = (Role.QA_REVIEWER, Role.QUALIFIED_PERSON, Role.AUDITOR)
REVIEW_ROLES = (Role.QA_REVIEWER, Role.QUALIFIED_PERSON, Role.AUDITOR)
S = BatchStatus
# States in which the QA review page has something to show.
REVIEW_STATES = tuple(s for s in S if s not in (S.REGISTERED, S.MOBILIZATION, S.COLLECTION, S.CANCELLED))


@dataclass(frozen=True)
class BatchLink:
    section: StrOrPromise
    roles: tuple[Role, ...]
    links: Callable[[Batch], LinkList]


def _audit(batch: Batch) -> LinkList:
    return [
        (gettext("Audit trail of this batch"), reverse("admin:batches_batch_audit", args=[batch.pk])),
        *(
            (
                gettext("Export the audit trail (%(format)s)") % {"format": fmt.upper()},
                reverse("admin:batches_batch_audit_export", args=[batch.pk, fmt]),
            )
            for fmt in ("csv", "json")
        ),
    ]


def _documents(batch: Batch) -> LinkList:
    """Every revision of the batch's signed records (a download link once signed), then the full list."""
    links: LinkList = []
    for document in batch.documents.order_by("kind", "-revision"):
        label = gettext("%(kind)s, revision %(revision)s") % {
            "kind": document.get_kind_display(),
            "revision": document.revision,
        }
        if document.status == DocumentStatus.SIGNED:
            links.append(
                (
                    gettext("%(document)s (signed PDF)") % {"document": label},
                    reverse("admin:batches_batchdocument_download", args=[document.pk]),
                )
            )
        else:
            url = reverse("admin:batches_batchdocument_change", args=[document.pk])
            links.append((f"{label} ({document.get_status_display().lower()})", url))
    changelist = reverse("admin:batches_batchdocument_changelist")
    links.append((gettext("All records and downloads of this batch"), f"{changelist}?batch__id__exact={batch.pk}"))
    return links


def _review(batch: Batch) -> LinkList:
    if batch.status not in REVIEW_STATES:
        return []
    return [
        (
            gettext("QA review: exceptions first, QC results, disposition"),
            reverse("admin:qc_review_batch", args=[batch.pk]),
        )
    ]


def _delivery(batch: Batch) -> LinkList:
    links: LinkList = []
    if batch.status in DESK_STATES:
        label = gettext("Delivery desk: hand-overs, dispatch, bedside check, infusion, follow-up")
        links.append((label, reverse("admin:batches_delivery_desk", args=[batch.pk])))
    if batch.din:
        links.append((gettext("Bag labels (PDF)"), reverse("admin:batch_labels", args=[batch.pk])))
    return links


BATCH_LINKS = (
    BatchLink(AUDIT_TRAIL, TRAIL_ROLES, _audit),
    BatchLink(DOCUMENTS, DOCUMENT_ROLES, _documents),
    BatchLink(QA_REVIEW, REVIEW_ROLES, _review),
    BatchLink(DELIVERY, BATCH_ROLES, _delivery),
)


def batch_links(batch: Batch, user: User) -> list[tuple[StrOrPromise, LinkList]]:
    """(section, [(label, url)]) in a fixed order, each possibly empty."""
    return [(link.section, link.links(batch) if has_role(user, *link.roles) else []) for link in BATCH_LINKS]
