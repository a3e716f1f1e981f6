"""Check the audit trail end to end: chain, signed checkpoint, sealed events, GMP rows.

``--incremental`` checks only what is new since the last intact run; every run is stored
(AuditVerification).

Exit status 0 when everything holds, 1 when anything is broken (the first break of each kind is
named), 2 when the check itself could not run.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser
from tqdm import tqdm

from batches.ledger.verify import last_intact_run, seal_count, verify_audit_trail
from batches.management.base import AuditedCommand

PROGRESS_FROM = 10_000


class Command(AuditedCommand):
    help = "Recompute the audit hash chain, check the signed checkpoint and reconcile every GMP row."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-progress", action="store_true", help="Never show the progress bar.")
        parser.add_argument(
            "--incremental",
            action="store_true",
            help="Check only what is new since the last intact run (a full run when there is none).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        base = last_intact_run() if options["incremental"] else None
        total = seal_count() - (base.head_sequence if base else 0)
        show = not options["no_progress"] and total >= PROGRESS_FROM
        with tqdm(total=total, unit="event", desc="verifying", disable=not show, file=sys.stderr) as bar:
            try:
                report = verify_audit_trail(progress=bar.update, incremental=options["incremental"])
            except Exception as error:  # a missing certificate or database error: say so, exit 2
                raise CommandError(f"The audit trail could not be verified: {error}", returncode=2) from error
        summary = (
            f"{report.mode} run from sequence {report.from_sequence}: {report.seals_checked} seals checked; "
            f"{report.sealed} sealed events, {report.unsealed} awaiting the next seal, "
            f"{report.rows} GMP rows reconciled; latest checkpoint {report.checkpoint}."
        )
        if report.ok:
            self.stdout.write(self.style.SUCCESS(f"Audit trail intact: {summary}"))
            return
        for problem in report.problems:
            self.stderr.write(f"BROKEN: {problem}")
        raise CommandError(f"Audit trail verification failed: {report.problems[0]} ({summary})", returncode=1)
