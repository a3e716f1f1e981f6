"""A valid production environment for subprocess tests: secrets, hosts, and an organisation seal
certificate that is not the development one (issued by a CA of another name)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "Qm7v-3Lr9x_Tz2Wk8Hn4Pb6Yc1Fj5Gd0Sa-Ue7Ro3Ni9Mt2Kw8Xq4"
PRODUCTION = {
    "CELLBATCH_ENV": "production",
    "DJANGO_SECRET_KEY": SECRET_KEY,
    "DJANGO_ALLOWED_HOSTS": "cellbatch.example,127.0.0.1",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
}
OURS = ("DJANGO_", "CELLBATCH_", "DATABASE_URL", "CELERY_")


def organisation_certificates(folder: Path) -> dict[str, str]:
    """A CA and a seal certificate as an organisation's trust service would issue them."""
    now = datetime.now(UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example Trust Services Qualified CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    seal_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    seal = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example Hospital batch record seal")]))
        .issuer_name(ca_name)
        .public_key(seal_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "CELLBATCH_SIGNING_CA": folder / "ca-cert.pem",
        "CELLBATCH_SIGNING_CERT": folder / "seal-cert.pem",
        "CELLBATCH_SIGNING_KEY": folder / "seal-key.pem",
    }
    paths["CELLBATCH_SIGNING_CA"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["CELLBATCH_SIGNING_CERT"].write_bytes(seal.public_bytes(serialization.Encoding.PEM))
    paths["CELLBATCH_SIGNING_KEY"].write_bytes(
        seal_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return {name: str(path) for name, path in paths.items()}


def clean_environment(**env: str) -> dict[str, str]:
    """This process's environment without any CellBatch variable, plus ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    return {**base, **env}


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean_environment(**env),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
