"""Start-up checks that keep demonstration material out of production (registered by BatchesConfig).

Both report errors only when CELLBATCH_ENV=production; they run with every management command,
``check --deploy``, and the web and worker start (config.deployment.require_passing_checks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.db import DatabaseError

# batches.pki.create_development_certificates names its CA "<organisation> development CA".
DEVELOPMENT_CA_SUFFIX = "development CA"
# seed_demo gives its users addresses in this reserved domain (RFC 2606).
DEMO_EMAIL_DOMAIN = "cellbatch.example"


def _common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


def is_development_certificate(cert: x509.Certificate) -> bool:
    """Made by create_signing_certificate: issued by (or being) its local development CA."""
    return any(_common_name(n).endswith(DEVELOPMENT_CA_SUFFIX) for n in (cert.issuer, cert.subject))


def seal_certificate_check(**_: Any) -> list[CheckMessage]:
    if not settings.PRODUCTION:
        return []
    path = Path(settings.CELLBATCH_SIGNING_CERT)
    hint = "Install the organisation's seal certificate and key (docs/operations.md)."
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        return [
            Error(f"No readable seal certificate at {path} ({exc.__class__.__name__}).", hint=hint, id="cellbatch.E001")
        ]
    if is_development_certificate(cert):
        return [
            Error(
                f"The seal certificate at {path} is the development certificate ('{_common_name(cert.issuer)}'): "
                "records sealed with it prove nothing.",
                hint=hint,
                id="cellbatch.E002",
            )
        ]
    return []


def demo_data_check(**_: Any) -> list[CheckMessage]:
    if not settings.PRODUCTION:
        return []
    from django.contrib.auth.models import User

    from batches.models import Batch, Patient

    try:
        found = {
            "demonstration batches": Batch.objects.filter(is_demo=True).count(),
            "demonstration patients (DEMO-…)": Patient.objects.filter(subject_code__startswith="DEMO-").count(),
            "demonstration users": User.objects.filter(email__iendswith=f"@{DEMO_EMAIL_DOMAIN}").count(),
        }
    except DatabaseError:
        # No tables yet (migrate runs the checks before it creates them): then there is no demo data.
        return []
    present = [f"{count} {what}" for what, count in found.items() if count]
    if not present:
        return []
    return [
        Error(
            f"This database holds demonstration data ({', '.join(present)}): production needs a database "
            "that seed_demo never touched.",
            hint="Point DATABASE_URL at the production database (docs/operations.md).",
            id="cellbatch.E003",
        )
    ]
