"""Seed the demo: one user per role, approved master data, batches in different states.

Idempotent: users are created or refreshed (password from DEMO_PASSWORD), master data and
batches are created only when missing. Everything goes through the services, so the demo data
carries audit events and signatures like real data.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction

from batches import demo
from batches.audit import audit_context
from batches.models import ApprovalStatus, Batch, Patient, ProcessDefinition
from batches.roles import Role
from batches.services import batch as batch_services

DEMO_PEOPLE: dict[str, tuple[str, str]] = {
    Role.OPERATOR: ("Olivia", "Ortega"),
    Role.VERIFIER: ("Victor", "Vidal"),
    Role.QC_ANALYST: ("Quentin", "Campos"),
    Role.QA_REVIEWER: ("Ana", "Quintana"),
    Role.QUALIFIED_PERSON: ("Pilar", "Prats"),
    Role.CLINICIAN: ("Carmen", "Llorente"),
    Role.AUDITOR: ("Aurelio", "Duran"),
    Role.ADMIN: ("Adrián", "Mendez"),
}

# subject code → the state its demo batch is walked to
DEMO_BATCHES: dict[str, str] = {
    "DEMO-S001": "quarantine",
    "DEMO-S002": "processing",
    "DEMO-S003": "collection",
    "DEMO-S004": "mobilization",
    "DEMO-S005": "registered",
    "DEMO-S006": "cancelled",
}


class Command(BaseCommand):
    help = "Create demo users (one per role, password DEMO_PASSWORD) and demo batches. Safe to re-run."

    def handle(self, *args: Any, **options: Any) -> None:
        users = self._users()
        cast = demo.Cast(
            operator=users[Role.OPERATOR],
            verifier=users[Role.VERIFIER],
            qa=users[Role.QA_REVIEWER],
            qp=users[Role.QUALIFIED_PERSON],
            password=settings.DEMO_PASSWORD,
        )
        definition = self._definition(cast)
        for subject_code, target in DEMO_BATCHES.items():
            self._batch(cast, definition, subject_code, target)
        self.stdout.write(self.style.SUCCESS(f"Demo ready: {Batch.objects.count()} batches, {len(users)} users."))

    def _users(self) -> dict[str, User]:
        users: dict[str, User] = {}
        with transaction.atomic(), audit_context("system:seed_demo", reason="demo accounts"):
            for role, (first, last) in DEMO_PEOPLE.items():
                user, _ = User.objects.get_or_create(username=str(role))
                user.first_name, user.last_name = first, last
                user.email = f"{role}@cellbatch.example"
                user.is_active = True
                user.is_staff = True  # every role works in the admin; what they may do is checked per role
                user.is_superuser = role == Role.ADMIN
                user.set_password(settings.DEMO_PASSWORD)
                user.save()
                user.groups.add(Group.objects.get_or_create(name=str(role))[0])
                users[role] = user
        return users

    def _definition(self, cast: demo.Cast) -> ProcessDefinition:
        existing = ProcessDefinition.objects.filter(code="IGX1", status=ApprovalStatus.APPROVED).first()
        if existing is not None:
            return existing
        with transaction.atomic():
            definition = demo.approved_definition(cast)
        self.stdout.write(f"Process definition {definition} approved by {cast.qa} and {cast.qp}.")
        return definition

    def _batch(self, cast: demo.Cast, definition: ProcessDefinition, subject_code: str, target: str) -> None:
        if Patient.objects.filter(subject_code=subject_code).exists():
            return
        with transaction.atomic():
            patient = demo.enrol(cast.operator, subject_code)
            batch = demo.register(cast, patient, definition)
            if target == "cancelled":
                demo.walk_to(cast, batch, "mobilization")
                batch_services.batch_cancel(
                    actor=cast.operator, batch_id=batch.pk, reason="Patient withdrew consent before apheresis."
                )
            else:
                demo.walk_to(cast, batch, target)
        self.stdout.write(f"Batch {batch.batch_number} for {subject_code}: {target}.")
