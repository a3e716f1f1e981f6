"""Who is currently trained on which procedure (reads only): the procedure in force for an activity, the
state of one person's training on it, the people × procedures matrix and each person's training due.

Rules (docs/domain.md §Training and controlled procedures):
- a process definition names, per activity, the controlled document version the work follows; the
  version in force on a day is the newest approved version of that document (never older than the one
  named) whose effective date has come;
- a person is trained on it with a signed (trainer and trainee), passed training record on that
  version, not past its retraining date; a record on an earlier version still counts until the in-force
  version's effective date plus its grace period;
- performing (not verifying or reviewing) work whose version asks for supervised practice needs that
  many signed, passed supervised-practice records on the document first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth.models import User
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from batches.models import ApprovalStatus, ProcessDefinition
from batches.models.training import (
    ControlledDocument,
    DocumentVersion,
    ProcedureActivity,
    StepProcedure,
    TrainingMethod,
    TrainingRecord,
)
from batches.roles import Role, user_roles

DUE_SOON_DAYS = 30

A = ProcedureActivity
# Who does each activity (the roles its services accept): a person needs the procedures of their roles' work.
ACTIVITY_ROLES: dict[str, frozenset[str]] = {
    A.GCSF: frozenset({Role.OPERATOR, Role.VERIFIER}),
    A.APHERESIS: frozenset({Role.OPERATOR, Role.VERIFIER}),
    A.SELECTION: frozenset({Role.OPERATOR, Role.VERIFIER}),
    A.QC_TESTING: frozenset({Role.QC_ANALYST}),
    A.QC_REVIEW: frozenset({Role.VERIFIER}),
    A.DISPOSITION: frozenset({Role.QA_REVIEWER}),
    A.CERTIFICATION: frozenset({Role.QUALIFIED_PERSON}),
    A.DELIVERY: frozenset({Role.OPERATOR}),
    A.BEDSIDE_CHECK: frozenset({Role.CLINICIAN}),
    A.INFUSION: frozenset({Role.CLINICIAN}),
}


class State:
    """A standing's code, kept as written in reports (the access review's); pages show ``Standing.label``."""

    NOT_NEEDED = gettext_noop("not needed")  # untrained, and no role of the person does work that follows it
    CURRENT = gettext_noop("current")
    GRACE = gettext_noop("grace")  # counts now, on an earlier version, until the grace period ends
    DUE_SOON = gettext_noop("due soon")
    LAPSED = gettext_noop("lapsed")
    MISSING = gettext_noop("not trained")


@dataclass(frozen=True)
class Standing:
    """One person's training on one document, as of one day."""

    version: DocumentVersion  # the version in force that day
    state: str
    counts: bool  # may the person do the work now
    until: date | None  # the last day the current training counts (None: no end known)
    trained_version: int | None
    detail: str

    @property
    def label(self) -> str:
        """The state in the reader's language."""
        return gettext(self.state)


def named_procedure(definition: ProcessDefinition, activity: str) -> DocumentVersion | None:
    found = (
        StepProcedure.objects.filter(definition=definition, activity=activity)
        .select_related("document_version__document")
        .first()
    )
    return found.document_version if found else None


IN_FORCE_STATES = (ApprovalStatus.APPROVED, ApprovalStatus.RETIRED)


def version_in_force(named: DocumentVersion, on: date) -> DocumentVersion | None:
    """The newest approved version of ``named``'s document effective on ``on`` (at least ``named``)."""
    return in_force_among(in_force_candidates([named.document_id]), named, on)


def in_force_candidates(document_ids: Iterable[int]) -> list[DocumentVersion]:
    """Every version of these documents that is or was in force on some day, in one query."""
    return list(
        DocumentVersion.objects.filter(document_id__in=set(document_ids), status__in=IN_FORCE_STATES).select_related(
            "document"
        )
    )


def in_force_among(candidates: Iterable[DocumentVersion], named: DocumentVersion, on: date) -> DocumentVersion | None:
    """Of ``candidates`` (see in_force_candidates), the version of ``named``'s document in force on ``on``."""
    fitting = [
        v
        for v in candidates
        if v.document_id == named.document_id
        and v.status in IN_FORCE_STATES
        and v.version >= named.version
        and v.effective_from <= on
    ]
    return max(fitting, key=lambda v: v.version, default=None)


def next_version(version: DocumentVersion) -> DocumentVersion | None:
    """The approved version that will replace ``version`` (effective later), if one is approved already."""
    return (
        DocumentVersion.objects.filter(
            document_id=version.document_id, status=ApprovalStatus.APPROVED, version__gt=version.version
        )
        .order_by("version")
        .first()
    )


def _signed(user: User) -> Q:
    return Q(trainee=user, passed=True, trainee_signed_at__isnull=False)


def standing(user: User, version: DocumentVersion, *, on: date | None = None, performing: bool = False) -> Standing:
    """``user``'s training on ``version`` (the version in force) on day ``on``."""
    on = on or timezone.localdate()
    records = list(
        TrainingRecord.objects.filter(_signed(user), document_version__document_id=version.document_id)
        .select_related("document_version")
        .order_by("-document_version__version", "-trained_on")
    )
    label = f"{version.document.number} v{version.version}"
    grace_end = version.effective_from + timedelta(days=version.grace_days)
    best: Standing | None = None
    for record in records:
        trained = record.document_version
        if trained.version > version.version:
            continue
        until = record.valid_until
        if trained.version < version.version:
            until = min(d for d in (until, grace_end - timedelta(days=1)) if d is not None)
        if until is not None and until < on:
            continue
        state = State.CURRENT if trained.version == version.version else State.GRACE
        if state == State.CURRENT and until is not None and until < on + timedelta(days=DUE_SOON_DAYS):
            state = State.DUE_SOON
        detail = (
            f"trained on {label}" + (f", retraining due {until}" if until else "")
            if trained.version == version.version
            else f"trained on v{trained.version}; it counts until {until}, the end of the grace period of {label}"
        )
        best = Standing(version, state, True, until, trained.version, detail)
        break
    if best is None:
        lapsed = [r for r in records if r.document_version.version <= version.version]
        if lapsed:
            last = lapsed[0]
            why = (
                f"the training on v{last.document_version.version} stopped counting on {grace_end} "
                f"(effective date of {label} plus {version.grace_days} days of grace)"
                if last.document_version.version < version.version
                else f"the retraining was due on {last.valid_until}"
            )
            best = Standing(version, State.LAPSED, False, None, last.document_version.version, why)
        else:
            best = Standing(version, State.MISSING, False, None, None, f"no signed training on {label}")
    if best.counts and performing and version.supervised_practices_required:
        practices = TrainingRecord.objects.filter(
            _signed(user), document_version__document_id=version.document_id, method=TrainingMethod.SUPERVISED
        ).count()
        if practices < version.supervised_practices_required:
            return Standing(
                version,
                State.MISSING,
                False,
                None,
                best.trained_version,
                f"performing it alone needs {version.supervised_practices_required} signed supervised practices; "
                f"{practices} recorded",
            )
    return best


def current_versions(on: date | None = None) -> list[DocumentVersion]:
    """The version in force of every controlled document that has one on ``on`` (one query)."""
    on = on or timezone.localdate()
    by_document: dict[int, list[DocumentVersion]] = {}
    for version in in_force_candidates(ControlledDocument.objects.values_list("pk", flat=True)):
        by_document.setdefault(version.document_id, []).append(version)
    found = []
    for versions in by_document.values():
        in_force = in_force_among(versions, min(versions, key=lambda v: v.version), on)
        if in_force is not None:
            found.append(in_force)
    return sorted(found, key=lambda v: v.document.number)


@dataclass(frozen=True)
class Upcoming:
    """A version approved for a later date that a person is not yet trained on."""

    version: DocumentVersion
    train_by: date  # its effective date plus its grace period

    def __str__(self) -> str:
        """As reports keep it, in one language whatever the reader's (docs/decisions.md D-i18n-1)."""
        with translation.override(None):
            return self.label

    @property
    def label(self) -> str:
        """As pages show it, in the reader's language."""
        return gettext("%(version)s: effective %(day)s, train by %(by)s") % {
            "version": self.version,
            "day": self.version.effective_from,
            "by": self.train_by,
        }


@dataclass(frozen=True)
class MatrixRow:
    user: User
    cells: list[Standing]
    upcoming: list[Upcoming]


def _upcoming(user: User, version: DocumentVersion, on: date) -> Upcoming | None:
    later = next_version(version)
    if later is None or later.effective_from <= on:
        return None
    if TrainingRecord.objects.filter(_signed(user), document_version=later).exists():
        return None
    return Upcoming(later, later.effective_from + timedelta(days=later.grace_days))


def training_matrix(users: list[User], *, on: date | None = None) -> tuple[list[DocumentVersion], list[MatrixRow]]:
    """People × procedures in force: each cell the person's standing, with the upcoming versions."""
    on = on or timezone.localdate()
    versions = current_versions(on)
    rows = []
    for user in users:
        needed = needed_documents(user)
        cells = []
        for version in versions:
            cell = standing(user, version, on=on)
            if cell.state == State.MISSING and version.document_id not in needed:
                cell = Standing(
                    version, State.NOT_NEEDED, False, None, None, "no work of this person's roles follows it"
                )
            cells.append(cell)
        upcoming = [u for u in (_upcoming(user, version, on) for version in versions) if u is not None]
        rows.append(MatrixRow(user, cells, upcoming))
    return versions, rows


def needed_documents(user: User) -> set[int]:
    """The controlled documents named for an activity that one of ``user``'s roles does."""
    roles = {str(r) for r in user_roles(user)}
    activities = [activity for activity, doers in ACTIVITY_ROLES.items() if doers & roles]
    return set(
        StepProcedure.objects.filter(activity__in=activities).values_list("document_version__document_id", flat=True)
    )


def training_due(user: User, *, on: date | None = None) -> list[str]:
    """What ``user`` must be trained on (missing, lapsed, in grace, due soon, upcoming version), in the
    reader's language (the person's home page)."""
    on = on or timezone.localdate()
    needed = needed_documents(user)
    _, rows = training_matrix([user], on=on)
    due = []
    for cell in rows[0].cells:
        if cell.version.document_id in needed and cell.state not in (State.CURRENT, State.NOT_NEEDED):
            item = gettext("%(version)s %(title)s: %(state)s") % {
                "version": cell.version,
                "title": cell.version.document.title,
                "state": cell.label,
            }
            if cell.until:
                item += " " + gettext("(until %(day)s)") % {"day": cell.until}
            due.append(item)
    due += [gettext("new version %(version)s") % {"version": u.label} for u in rows[0].upcoming]
    return due


def activity_label(activity: str) -> str:
    return ProcedureActivity(activity).label


def named_procedures(definition: ProcessDefinition) -> dict[str, DocumentVersion]:
    """Every activity's named procedure version of the definition, in one query."""
    named = StepProcedure.objects.filter(definition=definition).select_related("document_version__document")
    return {p.activity: p.document_version for p in named}


def version_followed(
    named: DocumentVersion | None, on: date, candidates: Iterable[DocumentVersion] | None = None
) -> str:
    """The version of ``named``'s document in force on ``on``, in words ("" when no procedure is named);
    chosen among ``candidates`` when given (see in_force_candidates), else read."""
    if named is None:
        return ""
    found = version_in_force(named, on) if candidates is None else in_force_among(candidates, named, on)
    version = found or named
    return f"{version.document.number} v{version.version} ({version.document.title})"
