"""Check a batch-record PDF: intact, sealed by a trusted certificate, identical to an issued record.

Exit code 0 only when all three hold.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from batches.release.documents import document_verify


class Command(BaseCommand):
    help = "Verify a signed batch-record PDF (seal intact, trusted certificate, issued by this system)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        report = document_verify(data=data)
        if options["json"]:
            self.stdout.write(json.dumps({**asdict(report), "ok": report.ok}, indent=2))
        else:
            yes = {True: "yes", False: "NO"}
            self.stdout.write(f"file:      {path}\nSHA-256:   {report.sha256}")
            self.stdout.write(f"intact:    {yes[report.intact]}\ntrusted:   {yes[report.trusted]}")
            self.stdout.write(f"issued:    {yes[report.issued]}")
            if report.timestamped_at:
                self.stdout.write(f"timestamp: {report.timestamped_at} (RFC 3161, PAdES B-T)")
            if report.issued:
                self.stdout.write(f"record:    batch {report.batch_number}, {report.kind}, revision {report.revision}")
                if report.superseded_by:
                    self.stdout.write(f"note:      superseded by revision {report.superseded_by}")
            for problem in report.problems:
                self.stdout.write(f"problem:   {problem}")
        if not report.ok:
            raise CommandError("the file is NOT a verified batch record issued by this system")
        self.stdout.write(self.style.SUCCESS("verified: intact, trusted and issued by this system"))
