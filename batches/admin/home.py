"""The admin index for each role: "your work" first (with counts), then the usual list of models.

Each role's card links to the pages that role works in; a link is shown only when the user may open
it (the model admin's own permission check), so the index never offers a page that answers 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.db.models import Model, Q
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from batches.models import (
    AccessEvent,
    ApprovalStatus,
    Batch,
    BatchDocument,
    Decision,
    Equipment,
    LineClearance,
    Material,
    MaterialLot,
    MonitoringSession,
    Patient,
    ProcessDefinition,
    StepMaterialRequirement,
)
from batches.roles import Role, user_roles
from batches.states import BatchStatus

S = BatchStatus
IN_MANUFACTURING = (S.REGISTERED, S.MOBILIZATION, S.COLLECTION, S.PROCESSING)
USER_ACTIVITY_LINKS = 30


@dataclass
class HomeLink:
    label: str
    url: str
    count: int | None = None


@dataclass
class HomeCard:
    role: str
    title: str
    intro: str
    links: list[HomeLink] = field(default_factory=list)
    people: list[HomeLink] = field(default_factory=list)  # shown on one line: "Changes made by: ..."

    def extend(self, *links: HomeLink | None) -> HomeCard:
        """Add the links the user may open (a builder returns None for the others)."""
        self.links += [link for link in links if link is not None]
        return self


class Links:
    """Builds the links of a card, keeping only those the signed-in user may open."""

    def __init__(self, request: HttpRequest, site: admin.AdminSite) -> None:
        self.request = request
        self.site = site

    def _admin(self, model: type[Model]) -> admin.ModelAdmin[Any] | None:
        return self.site._registry.get(model)

    def changelist(self, model: type[Model], label: str, query: str = "", count: int | None = None) -> HomeLink | None:
        model_admin = self._admin(model)
        if model_admin is None or not model_admin.has_view_permission(self.request):
            return None
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        return HomeLink(label, f"{url}?{query}" if query else url, count)

    def add(self, model: type[Model], label: str) -> HomeLink | None:
        model_admin = self._admin(model)
        if model_admin is None or not model_admin.has_add_permission(self.request):
            return None
        opts = model._meta
        return HomeLink(label, reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))

    def named(self, name: str, label: str, count: int | None = None, query: str = "") -> HomeLink | None:
        """A custom page of the site (the page checks the role itself)."""
        try:
            url = reverse(name)
        except NoReverseMatch:
            return None
        return HomeLink(label, f"{url}?{query}" if query else url, count)

    def qc(
        self, model_name: str, label: str, *, add: bool = False, query: str = "", count: int | None = None
    ) -> HomeLink | None:
        """A QC page (the batches app does not import QC models: looked up by name in the registry)."""
        model = next((m for m in self.site._registry if m._meta.label_lower == f"qc.{model_name}"), None)
        if model is None:
            return None
        return self.add(model, label) if add else self.changelist(model, label, query, count)


def _count(statuses: tuple[str, ...]) -> int:
    return Batch.objects.filter(status__in=statuses).count()


def _awaiting_verification() -> int:
    batches: set[int] = set()
    for relation in ("gcsf_administrations", "apheresis", "selection"):
        unverified = Q(**{f"{relation}__isnull": False, f"{relation}__verified_by__isnull": True})
        batches |= set(Batch.objects.filter(unverified, status__in=IN_MANUFACTURING).values_list("pk", flat=True))
    return len(batches)


def _awaiting_certification() -> int:
    return (
        Batch.objects.filter(
            status__in=[S.RELEASED, S.CONDITIONALLY_RELEASED], process_definition__requires_qp_certification=True
        )
        .exclude(dispositions__decision=Decision.CERTIFIED)
        .count()
    )


def _operator(links: Links) -> HomeCard:
    card = HomeCard(Role.OPERATOR, "Manufacturing", "Record and sign each step; a second person verifies it.")
    return card.extend(
        links.changelist(Batch, "Batches in manufacturing", count=_count(IN_MANUFACTURING)),
        links.add(Batch, "Register a batch"),
        links.changelist(Patient, "Patients"),
        links.add(Patient, "Enrol a patient"),
        links.qc("qcsample", "Record a QC sample", add=True),
        links.add(LineClearance, "Record a line clearance"),
        links.changelist(MonitoringSession, "Environmental monitoring sessions"),
        links.named(
            "admin:batches_delivery_desk_index",
            "Delivery desk: hand-overs and dispatch",
            _count((S.RELEASED, S.CONDITIONALLY_RELEASED)),
        ),
    )


def _verifier(links: Links) -> HomeCard:
    card = HomeCard(Role.VERIFIER, "Second-person verification", "Check and sign steps you did not perform.")
    return card.extend(
        links.changelist(Batch, "Batches with steps awaiting verification", count=_awaiting_verification()),
        links.qc("qcresult", "QC results awaiting review", query="verified_by__isnull=True"),
    )


def _qc_analyst(links: Links) -> HomeCard:
    card = HomeCard(Role.QC_ANALYST, "QC laboratory", "Samples, results against the specification, deviations.")
    return card.extend(
        links.changelist(Batch, "Batches in quarantine", "status__exact=quarantine", _count((S.QUARANTINE,))),
        links.qc("qcsample", "Record a QC sample", add=True),
        links.qc("qcresult", "Record a QC result", add=True),
        links.qc("qcresult", "QC results"),
        links.qc("qcsample", "QC samples"),
        links.qc("deviation", "Open deviations", query="status__exact=open"),
        links.changelist(MonitoringSession, "Environmental monitoring: plates to read"),
    )


def _qa(links: Links) -> HomeCard:
    card = HomeCard(Role.QA_REVIEWER, "Quality assurance", "Review by exception, deviations, release and closure.")
    return card.extend(
        links.named(
            "admin:qc_review_index",
            "QA review: batches awaiting disposition",
            count=_count((S.QUARANTINE,)),
            query="status=quarantine",
        ),
        links.qc("deviation", "Open deviations", query="status__exact=open"),
        links.qc("deviation", "Late results after release", query="raised_after_release__exact=1"),
        links.qc("specification", "Specifications"),
        links.qc("specification", "Draft a specification", add=True),
        links.changelist(MaterialLot, "Material lots: release, reject, recall", query="status__exact=quarantine"),
        links.changelist(LineClearance, "Line clearances (verify the open ones)"),
        links.add(StepMaterialRequirement, "Declare a draft definition's step materials"),
        links.changelist(ProcessDefinition, "Process definitions"),
        links.changelist(BatchDocument, "Signed batch records (PDF)"),
        links.named(
            "admin:batches_delivery_desk_index",
            "Delivery desk: close infused or rejected batches",
            _count((S.INFUSED, S.REJECTED)),
        ),
    )


def _qp(links: Links) -> HomeCard:
    card = HomeCard(Role.QUALIFIED_PERSON, "Qualified Person", "Certify released batches; approve master data.")
    return card.extend(
        links.named(
            "admin:qc_review_index",
            "Released batches awaiting certification",
            count=_awaiting_certification(),
            query="status=released",
        ),
        links.changelist(
            ProcessDefinition,
            "Process definitions awaiting approval",
            "status__exact=draft",
            ProcessDefinition.objects.filter(status=ApprovalStatus.DRAFT).count(),
        ),
        links.qc("specification", "Specifications"),
        links.changelist(BatchDocument, "Signed batch records (PDF)"),
    )


def _clinician(links: Links) -> HomeCard:
    card = HomeCard(Role.CLINICIAN, "Delivery and follow-up", "Receive, check at the bedside, infuse, follow up.")
    return card.extend(
        links.named(
            "admin:batches_delivery_desk_index",
            "Delivery desk",
            _count((S.RELEASED, S.CONDITIONALLY_RELEASED, S.DISPATCHED)),
        ),
        links.named("admin:batches_cohort", "Cohort: treated patients and outcomes"),
        links.add(Patient, "Enrol a patient"),
        links.named("admin:batches_adverseevent_changelist", "Adverse events"),
        links.named("admin:batches_followupvisit_changelist", "Follow-up visits"),
        links.named("admin:batches_embryotransfer_changelist", "Embryo transfers"),
    )


def _auditor(links: Links) -> HomeCard:
    card = HomeCard(Role.AUDITOR, "Inspection (read-only)", "Every record, its audit trail and signed PDFs.")
    card.extend(
        links.changelist(Batch, "Batches (each has its audit trail and exports)"),
        links.named("admin:qc_review_index", "QA review pages"),
        links.changelist(BatchDocument, "Signed batch records (PDF)"),
        links.qc("deviation", "Deviations"),
        links.changelist(AccessEvent, "Access log"),
    )
    # A user's changes across all records (the audit page checks the auditor role itself).
    card.people = [
        HomeLink(user.get_username(), reverse("admin:audit_user_activity", args=[user.pk]))
        for user in User.objects.order_by("username")[:USER_ACTIVITY_LINKS]
    ]
    return card


def _admin(links: Links) -> HomeCard:
    card = HomeCard(Role.ADMIN, "Accounts and master data", "Users, roles and process definitions; no batch data.")
    return card.extend(
        links.changelist(User, "Users"),
        links.add(User, "Add a user"),
        links.changelist(Group, "Roles (groups)"),
        links.changelist(ProcessDefinition, "Process definitions"),
        links.add(ProcessDefinition, "Draft a process definition"),
        links.changelist(AccessEvent, "Access log"),
    )


def _materials(links: Links) -> HomeCard:
    card = HomeCard(
        Role.MATERIALS, "Materials and equipment", "Material master, lot receipt, equipment register and records."
    )
    return card.extend(
        links.add(MaterialLot, "Receive a lot (scan its label)"),
        links.changelist(MaterialLot, "Lots: status, what is left, recalls"),
        links.changelist(Material, "Material master"),
        links.changelist(Equipment, "Equipment: due dates, records, use logs"),
        links.add(Equipment, "Register equipment"),
    )


CARDS: dict[str, Callable[[Links], HomeCard]] = {
    Role.OPERATOR: _operator,
    Role.VERIFIER: _verifier,
    Role.QC_ANALYST: _qc_analyst,
    Role.QA_REVIEWER: _qa,
    Role.QUALIFIED_PERSON: _qp,
    Role.CLINICIAN: _clinician,
    Role.AUDITOR: _auditor,
    Role.MATERIALS: _materials,
    Role.ADMIN: _admin,
}


def role_home(request: HttpRequest, site: admin.AdminSite) -> list[HomeCard]:
    """One card per role the user holds, in the order of the roles, each with the links it may open."""
    roles = user_roles(request.user)
    links = Links(request, site)
    return [build(links) for role, build in CARDS.items() if role in roles]
