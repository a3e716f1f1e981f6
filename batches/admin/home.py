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
from django.db.models import Model
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from batches.admin.queues import QUEUES
from batches.competence import training_due
from batches.models import (
    AccessEvent,
    ApprovalStatus,
    Batch,
    BatchDocument,
    DocumentVersion,
    Equipment,
    FollowUpStatus,
    ImportStatus,
    LineClearance,
    Material,
    MaterialLot,
    MonitoringSession,
    Patient,
    PatientImport,
    ProcessDefinition,
    ReleaseFollowUp,
    StepMaterialRequirement,
    TrainingRecord,
)
from batches.personal import SIGNING_ROLES
from batches.roles import Role, user_roles
from batches.states import BatchStatus

S = BatchStatus
IN_MANUFACTURING = (S.REGISTERED, S.MOBILIZATION, S.COLLECTION, S.PROCESSING)
USER_ACTIVITY_LINKS = 30
QUEUE_ITEMS_ON_HOME = 5


@dataclass
class HomeLink:
    label: str
    url: str
    count: int | None = None
    # A work queue's first items, each opening exactly that item (the queue page lists them all).
    items: list[HomeLink] = field(default_factory=list)


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

    def queue(self, slug: str) -> HomeLink:
        """A work queue: its count, its first items, and its page."""
        queue = QUEUES[slug]
        items = queue.items()
        link = HomeLink(str(queue.label), reverse("admin:work_queue", args=[slug]), len(items))
        link.items = [
            HomeLink(f"{item.title} ({item.detail})" if item.detail else item.title, item.url)
            for item in items[:QUEUE_ITEMS_ON_HOME]
        ]
        return link

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


def _medical_director(links: Links) -> HomeCard:
    card = HomeCard(
        Role.MEDICAL_DIRECTOR, _("Medical director"), _("Authorise conditional releases; see their follow-up.")
    )
    return card.extend(_conditional_link(links, _("Conditional releases to authorise, with their pending results")))


def _conditional_link(links: Links, label: str) -> HomeLink | None:
    """Open follow-ups of conditional releases (pending results not yet in and assessed)."""
    count = ReleaseFollowUp.objects.filter(status=FollowUpStatus.OPEN).count()
    return links.named("admin:batches_conditional_index", label, count)


def _operator(links: Links) -> HomeCard:
    card = HomeCard(Role.OPERATOR, _("Manufacturing"), _("Record and sign each step; a second person verifies it."))
    return card.extend(
        links.queue("dispatch"),
        links.changelist(
            Batch,
            _("Batches in manufacturing"),
            query="status__in=" + ",".join(IN_MANUFACTURING),
            count=_count(IN_MANUFACTURING),
        ),
        links.add(Batch, _("Register a batch")),
        links.changelist(Patient, _("Patients")),
        links.add(Patient, _("Enrol a patient")),
        links.add(PatientImport, _("Import patients from a legacy register")),
        links.qc("qcsample", _("Record a QC sample"), add=True),
        links.add(LineClearance, _("Record a line clearance")),
        links.changelist(MonitoringSession, _("Environmental monitoring sessions")),
        links.named("admin:batches_delivery_desk_index", _("Delivery desk: hand-overs and dispatch")),
    )


def _verifier(links: Links) -> HomeCard:
    card = HomeCard(Role.VERIFIER, _("Second-person verification"), _("Check and sign steps you did not perform."))
    return card.extend(links.queue("verify-steps"), links.queue("review-results"))


def _qc_analyst(links: Links) -> HomeCard:
    card = HomeCard(Role.QC_ANALYST, _("QC laboratory"), _("Samples, results against the specification, deviations."))
    return card.extend(
        links.queue("record-results"),
        links.changelist(MonitoringSession, _("Environmental monitoring: plates to read")),
        links.changelist(Batch, _("Batches in quarantine"), "status__exact=quarantine", _count((S.QUARANTINE,))),
        links.qc("qcsample", _("Record a QC sample"), add=True),
        links.qc("qcresult", _("Record a QC result"), add=True),
        links.qc("qcresult", _("QC results")),
        links.qc("qcsample", _("QC samples")),
        links.qc("deviation", _("Open deviations"), query="status__exact=open"),
    )


def _qa(links: Links) -> HomeCard:
    card = HomeCard(
        Role.QA_REVIEWER, _("Quality assurance"), _("Review by exception, deviations, release and closure.")
    )
    return card.extend(
        links.queue("decide"),
        links.queue("close"),
        links.named("admin:qc_review_index", _("QA review: every batch from processing on")),
        links.qc("deviation", _("Open deviations"), query="status__exact=open"),
        _conditional_link(links, _("Conditional releases: follow-ups open until the pending results are assessed")),
        links.qc("oosinvestigation", _("Open OOS investigations"), query="status__exact=open"),
        links.qc("reportabilityassessment", _("Reportability to decide"), query="status__exact=open"),
        links.qc("reportabilityassessment", _("Reports to submit"), query="status__exact=to_submit"),
        links.qc("deviation", _("Late results after release"), query="raised_after_release__exact=1"),
        links.qc("specification", _("Specifications")),
        links.qc("specification", _("Draft a specification"), add=True),
        links.changelist(MaterialLot, _("Material lots: release, reject, recall"), query="status__exact=quarantine"),
        links.changelist(LineClearance, _("Line clearances (verify the open ones)")),
        links.add(StepMaterialRequirement, _("Declare a draft definition's step materials")),
        links.changelist(ProcessDefinition, _("Process definitions")),
        links.named("admin:batches_training_matrix", _("Training matrix (people × SOPs)")),
        links.named("admin:batches_access_review", _("Periodic access review")),
        links.changelist(DocumentVersion, _("Controlled documents (SOPs and forms)")),
        links.changelist(
            PatientImport,
            _("Patient imports awaiting sign-off"),
            "status__exact=staged",
            PatientImport.objects.filter(status=ImportStatus.STAGED).count(),
        ),
        links.changelist(BatchDocument, _("Signed batch records (PDF)")),
        links.named(
            "admin:batches_delivery_desk_index",
            _("Delivery desk: close infused or rejected batches"),
            _count((S.INFUSED, S.REJECTED)),
        ),
    )


def _qp(links: Links) -> HomeCard:
    card = HomeCard(Role.QUALIFIED_PERSON, _("Qualified Person"), _("Certify released batches; approve master data."))
    return card.extend(
        links.queue("certify"),
        links.named("admin:qc_review_index", _("QA review: every batch from processing on")),
        _conditional_link(links, _("Conditional releases awaiting the final certification")),
        links.changelist(
            ProcessDefinition,
            _("Process definitions awaiting approval"),
            "status__exact=draft",
            ProcessDefinition.objects.filter(status=ApprovalStatus.DRAFT).count(),
        ),
        links.qc("specification", _("Specifications")),
        links.changelist(BatchDocument, _("Signed batch records (PDF)")),
    )


def _clinician(links: Links) -> HomeCard:
    card = HomeCard(Role.CLINICIAN, _("Delivery and follow-up"), _("Receive, check at the bedside, infuse, follow up."))
    return card.extend(
        links.queue("arriving"),
        links.named("admin:batches_delivery_desk_index", _("Delivery desk")),
        _conditional_link(links, _("Conditional releases to acknowledge, with their pending results")),
        links.named("admin:batches_cohort", _("Cohort: treated patients and outcomes")),
        links.add(Patient, _("Enrol a patient")),
        links.named("admin:batches_adverseevent_changelist", _("Adverse events")),
        links.named("admin:batches_followupvisit_changelist", _("Follow-up visits")),
        links.named("admin:batches_embryotransfer_changelist", _("Embryo transfers")),
    )


def _auditor(links: Links) -> HomeCard:
    card = HomeCard(Role.AUDITOR, _("Inspection (read-only)"), _("Every record, its audit trail and signed PDFs."))
    card.extend(
        links.queue("records"),
        links.changelist(Batch, _("Batches (each has its audit trail and exports)")),
        links.named("admin:qc_review_index", _("QA review pages")),
        links.changelist(BatchDocument, _("Signed batch records (PDF)")),
        links.qc("deviation", _("Deviations")),
        links.changelist(AccessEvent, _("Access log")),
    )
    # A user's changes across all records (the audit page checks the auditor role itself).
    card.people = [
        HomeLink(user.get_username(), reverse("admin:audit_user_activity", args=[user.pk]))
        for user in User.objects.order_by("username")[:USER_ACTIVITY_LINKS]
    ]
    return card


def _admin(links: Links) -> HomeCard:
    card = HomeCard(
        Role.ADMIN, _("Accounts and master data"), _("Users, roles and process definitions; no batch data.")
    )
    return card.extend(
        links.changelist(User, _("Users")),
        links.add(User, _("Add a user")),
        links.changelist(Group, _("Roles (groups)")),
        links.changelist(ProcessDefinition, _("Process definitions")),
        links.add(ProcessDefinition, _("Draft a process definition")),
        links.changelist(AccessEvent, _("Access log")),
    )


def _materials(links: Links) -> HomeCard:
    card = HomeCard(
        Role.MATERIALS,
        _("Materials and equipment"),
        _("Material master, lot receipt, equipment register and records."),
    )
    return card.extend(
        links.add(MaterialLot, _("Receive a lot (scan its label)")),
        links.changelist(MaterialLot, _("Lots: status, what is left, recalls")),
        links.changelist(Material, _("Material master")),
        links.changelist(Equipment, _("Equipment: due dates, records, use logs")),
        links.add(Equipment, _("Register equipment")),
    )


CARDS: dict[str, Callable[[Links], HomeCard]] = {
    Role.OPERATOR: _operator,
    Role.VERIFIER: _verifier,
    Role.QC_ANALYST: _qc_analyst,
    Role.QA_REVIEWER: _qa,
    Role.QUALIFIED_PERSON: _qp,
    Role.CLINICIAN: _clinician,
    Role.MEDICAL_DIRECTOR: _medical_director,
    Role.AUDITOR: _auditor,
    Role.MATERIALS: _materials,
    Role.ADMIN: _admin,
}


def _training(links: Links, user: User) -> HomeCard | None:
    """Your training: what is due (missing, lapsed, in grace, due soon, a new version coming) and what awaits
    your signature as trainee. Shown to every holder of a signing role."""
    if not {str(r) for r in user_roles(user)} & SIGNING_ROLES:
        return None
    card = HomeCard("training", _("Your training"), _("Work is refused without current training on its procedure."))
    unsigned = TrainingRecord.objects.filter(trainee=user, trainee_signed_at__isnull=True).select_related(
        "document_version__document"
    )
    for record in unsigned:
        url = reverse("admin:batches_trainingrecord_acknowledge", args=[record.pk])
        label = _("Sign your training on %(version)s") % {"version": record.document_version}
        card.links.append(HomeLink(label, url))
    due = training_due(user)
    card.extend(
        *(
            links.changelist(TrainingRecord, _("Due: %(item)s") % {"item": item}, f"q={user.get_username()}")
            for item in due
        ),
        links.changelist(TrainingRecord, _("Your training records"), f"q={user.get_username()}"),
    )
    if not due and not unsigned:
        card.intro = _("Your training is current on every procedure you work to.")

    return card


def role_home(request: HttpRequest, site: admin.AdminSite) -> list[HomeCard]:
    """One card per role the user holds, in the order of the roles, each with the links it may open."""
    roles = user_roles(request.user)
    links = Links(request, site)
    cards = [build(links) for role, build in CARDS.items() if role in roles]
    training = _training(links, request.user) if isinstance(request.user, User) else None
    return [training, *cards] if training else cards
