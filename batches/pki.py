"""The organisation's signing key and certificates (PDF seals, audit checkpoints).

Paths come from settings; the key is loaded once per process (each load costs tens of
milliseconds, and a worker signs many records). ``create_signing_certificate`` makes a local CA
and seal certificate for development and the demo.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings


def _passphrase() -> bytes | None:
    value = settings.CELLBATCH_SIGNING_KEY_PASSPHRASE
    return value.encode() if value else None


@lru_cache(maxsize=1)
def organisation_key() -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(Path(settings.CELLBATCH_SIGNING_KEY).read_bytes(), _passphrase())
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("the organisation signing key must be an RSA key")
    return key


@lru_cache(maxsize=1)
def organisation_certificate() -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(settings.CELLBATCH_SIGNING_CERT).read_bytes())


@lru_cache(maxsize=1)
def trust_roots() -> tuple[x509.Certificate, ...]:
    """The CA certificates a signed record or checkpoint must chain to."""
    return tuple(x509.load_pem_x509_certificates(Path(settings.CELLBATCH_SIGNING_CA).read_bytes()))


def timestamp_roots() -> tuple[x509.Certificate, ...]:
    """The roots a record's RFC 3161 timestamp must chain to (CELLBATCH_TSA_CA; none when unset)."""
    path = settings.CELLBATCH_TSA_CA
    return _certificates_at(path) if path else ()


@lru_cache(maxsize=4)
def _certificates_at(path: str) -> tuple[x509.Certificate, ...]:
    return tuple(x509.load_pem_x509_certificates(Path(path).read_bytes()))


def reset_cache() -> None:
    """Forget loaded keys (after new certificates are made, or in tests)."""
    for cached in (organisation_key, organisation_certificate, trust_roots, _certificates_at):
        cached.cache_clear()


def certificate_fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def sign_bytes(data: bytes) -> bytes:
    """RSA PKCS#1 v1.5 / SHA-256 signature with the organisation key."""
    return organisation_key().sign(data, padding.PKCS1v15(), hashes.SHA256())


def verify_bytes(data: bytes, signature: bytes, cert: x509.Certificate | None = None) -> bool:
    public_key = (cert or organisation_certificate()).public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        return False
    try:
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except Exception:  # cryptography raises InvalidSignature; any failure means "not verified"
        return False
    return True


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ES"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, settings.CELLBATCH_ORGANISATION_NAME),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if private:
        path.chmod(0o600)


def create_development_certificates(*, ca_cert_path: Path, seal_cert_path: Path, seal_key_path: Path) -> str:
    """Make a local CA and an organisation seal certificate signed by it; return the seal fingerprint."""
    now = datetime.now(UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = _name(f"{settings.CELLBATCH_ORGANISATION_NAME} development CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    seal_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    seal_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{settings.CELLBATCH_ORGANISATION_NAME} batch record seal"))
        .issuer_name(ca_name)
        .public_key(seal_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(seal_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    passphrase = _passphrase()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    _write(ca_cert_path, ca_cert.public_bytes(serialization.Encoding.PEM))
    _write(seal_cert_path, seal_cert.public_bytes(serialization.Encoding.PEM))
    _write(
        seal_key_path,
        seal_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption),
        private=True,
    )
    reset_cache()
    return certificate_fingerprint(seal_cert)
