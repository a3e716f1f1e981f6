"""Seed the demo: one user per role, approved master data, batches in every state.

Idempotent: users are created or refreshed (password from DEMO_PASSWORD); master data, batches and
the signing certificate are created only when missing. Everything goes through the services, so
the demo data carries audit events and signatures like real data. One batch (DEMO-S001) is walked
end to end and its signed release and final batch records are built before the command returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.db import transaction

from batches import demo, demo_people, register_demo
from batches.accounts.identity import passwords_verified_once
from batches.audit import audit_context
from batches.checks import DEMO_EMAIL_DOMAIN
from batches.ledger.seal import ledger_seal
from batches.management.base import AuditedCommand
from batches.models import ApprovalStatus, Batch, Patient, ProcessDefinition
from batches.roles import Role
from batches.services import batch as batch_services
from qc import demo as qc_demo

DEMO_PEOPLE: dict[str, tuple[str, str, str]] = {
    # username: (role, first name, last name)
    "operator": (Role.OPERATOR, "Olivia", "Ortega"),
    "verifier": (Role.VERIFIER, "Victor", "Vidal"),
    "qc_analyst": (Role.QC_ANALYST, "Quentin", "Campos"),
    "qa_reviewer": (Role.QA_REVIEWER, "Ana", "Quintana"),
    "qualified_person": (Role.QUALIFIED_PERSON, "Pilar", "Prats"),
    "clinician": (Role.CLINICIAN, "Carmen", "Llorente"),
    "clinician2": (Role.CLINICIAN, "Nuria", "Castells"),  # the second person at the bedside check
    "auditor": (Role.AUDITOR, "Aurelio", "Duran"),
    "materials": (Role.MATERIALS, "Marta", "Moreno"),  # the material master, lot receipt, equipment register
    "medical_director": (Role.MEDICAL_DIRECTOR, "Mercedes", "Dorado"),
    "qc_reviewer": (Role.VERIFIER, "Raquel", "Vega"),  # reviews QC results, independent of production
    "admin": (Role.ADMIN, "Adrián", "Méndez"),
}

Step = Callable[[qc_demo.Crew, Batch], Batch]

# subject code → (what the demo shows, the steps after quarantine); manufacturing states stop earlier
DEMO_BATCHES: dict[str, tuple[str, list[Step] | str]] = {
    "DEMO-S001": (
        "closed: walked end to end, with signed records",
        [
            qc_demo.release_batch,
            qc_demo.dispatch_batch,
            qc_demo.infuse_batch,
            qc_demo.close_batch,
        ],
    ),
    "DEMO-S002": ("infused", [qc_demo.release_batch, qc_demo.dispatch_batch, qc_demo.infuse_batch]),
    "DEMO-S003": (
        "dispatched in a warm shipper (an exception accepted with a reason)",
        [qc_demo.release_batch, lambda crew, batch: qc_demo.dispatch_batch(crew, batch, warm=True)],
    ),
    "DEMO-S004": ("released and certified", [qc_demo.release_batch]),
    "DEMO-S005": (
        "conditionally released, sterility pending",
        [
            lambda crew, batch: qc_demo.release_batch(crew, batch, conditionally=True),
        ],
    ),
    "DEMO-S006": ("rejected: purity out of specification", [qc_demo.reject_batch]),
    "DEMO-S013": (
        "QA decided, awaiting QP certification",
        [lambda crew, batch: qc_demo.release_batch(crew, batch, certify=False)],
    ),
    "DEMO-S007": ("quarantine, awaiting QC", []),
    "DEMO-S008": ("processing", "processing"),
    "DEMO-S009": ("collection", "collection"),
    "DEMO-S010": ("mobilization", "mobilization"),
    "DEMO-S011": ("registered", "registered"),
    "DEMO-S012": ("cancelled", "cancelled"),
}


class Command(AuditedCommand):
    help = "Create demo users (one per role, password DEMO_PASSWORD) and demo batches. Safe to re-run."
    audit_reason = "demo data"

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed_demo never runs in production: demonstration data is not for clinical use.")
        # Hundreds of demo signatures by eleven people: each password is checked in full once, not each time.
        with passwords_verified_once():
            self._seed()

    def _seed(self) -> None:
        call_command("create_signing_certificate", stdout=self.stdout)
        users = self._users()
        cast = demo.Cast(
            operator=users["operator"],
            verifier=users["verifier"],
            qa=users["qa_reviewer"],
            qp=users["qualified_person"],
            password=settings.DEMO_PASSWORD,
            materials=users["materials"],
        )
        crew = qc_demo.Crew(
            cast=cast,
            analyst=users["qc_analyst"],
            clinician=users["clinician"],
            second_clinician=users["clinician2"],
            medical_director=users["medical_director"],
            qc_reviewer=users["qc_reviewer"],
        )
        with transaction.atomic():
            demo_people.seed(users, qa=cast.qa, qp=cast.qp, password=cast.password)
        register_demo.ensure_register(cast)
        definition = self._definition(cast)
        with transaction.atomic():
            qc_demo.approved_specification(cast)
        # A first checkpoint before any batch, as the periodic seal would have made: records snapshotted at
        # release then print the checkpoint current at their issue.
        ledger_seal()
        for subject_code, (label, plan) in DEMO_BATCHES.items():
            self._batch(crew, definition, subject_code, label, plan)
        ledger_seal()  # the demo's events sealed, as beat would have done by now
        self._records()
        self.stdout.write(self.style.SUCCESS(f"Demo ready: {Batch.objects.count()} batches, {len(users)} users."))

    def _users(self) -> dict[str, User]:
        users: dict[str, User] = {}
        with transaction.atomic(), audit_context("system:seed_demo", reason="demo accounts"):
            for username, (role, first, last) in DEMO_PEOPLE.items():
                user, _ = User.objects.get_or_create(username=username)
                user.first_name, user.last_name = first, last
                user.email = f"{username}@{DEMO_EMAIL_DOMAIN}"
                user.is_active = True
                user.is_staff = True  # every role works in the admin; what each may do is checked per role
                user.is_superuser = role == Role.ADMIN
                user.set_password(settings.DEMO_PASSWORD)
                user.save()
                demo_people.identity_give(user, employee_number=f"HM-{100 + len(users)}")
                user.groups.add(Group.objects.get_or_create(name=str(role))[0])
                users[username] = user
        return users

    def _definition(self, cast: demo.Cast) -> ProcessDefinition:
        existing = ProcessDefinition.objects.filter(code="IGX1", status=ApprovalStatus.APPROVED).first()
        if existing is not None:
            return existing
        with transaction.atomic():
            definition = demo.approved_definition(cast)
        self.stdout.write(f"Process definition {definition} approved by {cast.qa} and {cast.qp}.")
        return definition

    def _batch(
        self, crew: qc_demo.Crew, definition: ProcessDefinition, code: str, label: str, plan: list[Step] | str
    ) -> None:
        if Patient.objects.filter(subject_code=code).exists():
            return
        cast = crew.cast
        with transaction.atomic():
            batch = demo.register(cast, demo.enrol(cast.operator, code), definition, demo=True)
        # Each service runs in its own transaction, as it would from the admin.
        if plan == "cancelled":
            demo.walk_to(cast, batch, "mobilization")
            batch_services.batch_cancel(
                actor=cast.operator, batch_id=batch.pk, reason="Patient withdrew consent before apheresis."
            )
        elif isinstance(plan, str):
            demo.walk_to(cast, batch, plan)
        else:
            batch = demo.walk_to(cast, batch, "quarantine")
            for step in plan:
                batch = step(crew, batch)
        self.stdout.write(f"Batch {batch.batch_number} for {code}: {label}.")

    def _records(self) -> None:
        """Build every queued batch record now, so the demo's signed PDFs exist before the server starts."""
        from batches.models import BatchDocument, DocumentStatus
        from batches.release.documents import documents_build_now

        queued = BatchDocument.objects.filter(status=DocumentStatus.QUEUED).values_list("batch_id", flat=True)
        for batch_id in sorted(set(queued)):
            for document in documents_build_now(batch_id=batch_id):
                self.stdout.write(
                    f"{document.get_kind_display()} of {document.batch}, revision {document.revision}: "
                    f"{document.get_status_display().lower()}."
                )
