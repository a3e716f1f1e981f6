"""Patient import from a legacy register's CSV export: a dry run by default, staging with ``--stage``.

    manage.py import_patients register.csv                        # dry run: reconciliation, nothing written
    manage.py import_patients register.csv --stage --user alice --register "Hospital X trial log 2019-2024" \
        --reason "migration of the subjects enrolled before the system went live"

Staged rows become patients only when QA signs the import off (admin: Patient imports).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from batches.management.base import AuditedCommand
from batches.models import RowOutcome
from batches.services.patient_import import Preview, patient_import_preview, patient_import_stage


class Command(AuditedCommand):
    help = "Dry-run (default) or stage a CSV of patients exported from a legacy register."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--stage", action="store_true", help="Write the staging rows (QA signs them off).")
        parser.add_argument("--user", help="The person importing (operator or clinician); required with --stage.")
        parser.add_argument("--register", default="", help="The legacy register the file was exported from.")
        parser.add_argument("--reason", default="", help="Why the import is made (audited).")

    def handle(self, *args: Any, **options: Any) -> None:
        data = options["file"].read_bytes()
        try:
            preview = patient_import_preview(data=data)
            self._print(preview)
            if not options["stage"]:
                self.stdout.write("Dry run: nothing was written.")
                return
            user = User.objects.filter(username=options["user"] or "", is_active=True).first()
            if user is None:
                raise CommandError("--stage needs --user naming an active operator or clinician.")
            staged = patient_import_stage(
                actor=user,
                data=data,
                source_name=options["file"].name,
                register=options["register"],
                reason=options["reason"],
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(self.style.SUCCESS(f"Staged as import #{staged.pk}; QA must sign it off before use."))

    def _print(self, preview: Preview) -> None:
        counts = preview.reconciliation
        self.stdout.write(
            f"{counts['lines']} lines = {counts[RowOutcome.NEW]} new + {counts[RowOutcome.MATCHED]} already "
            f"registered + {counts[RowOutcome.CONFLICT]} conflicting + {counts[RowOutcome.REJECTED]} rejected "
            f"(file SHA-256 {preview.sha256})"
        )
        for line in preview.lines:
            if line.outcome in (RowOutcome.CONFLICT, RowOutcome.REJECTED, RowOutcome.MATCHED):
                self.stdout.write(f"  line {line.line} {line.subject_code or '?'}: {line.outcome} - {line.message}")
