"""Make a local CA and organisation seal certificate (development and demo only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from batches.pki import create_development_certificates


class Command(BaseCommand):
    help = "Create a development CA and organisation seal certificate at the configured paths."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="Replace existing certificates.")

    def handle(self, *args: Any, **options: Any) -> None:
        paths = {
            "ca_cert_path": Path(settings.CELLBATCH_SIGNING_CA),
            "seal_cert_path": Path(settings.CELLBATCH_SIGNING_CERT),
            "seal_key_path": Path(settings.CELLBATCH_SIGNING_KEY),
        }
        if all(p.exists() for p in paths.values()) and not options["force"]:
            self.stdout.write(f"Signing certificate already present at {paths['seal_cert_path']} (use --force).")
            return
        fingerprint = create_development_certificates(**paths)
        self.stdout.write(self.style.SUCCESS(f"Created seal certificate {paths['seal_cert_path']}"))
        self.stdout.write(f"SHA-256 fingerprint: {fingerprint}")
        self.stdout.write(f"Trust root (development CA): {paths['ca_cert_path']}")
