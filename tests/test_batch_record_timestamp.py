"""PAdES B-T: with a timestamp authority configured, the seal carries its RFC 3161 token.

The authority is a real HTTP server on localhost answering RFC 3161 requests (pyHanko's
DummyTimeStamper signs the tokens with a TSA certificate made here), so the request goes through
the same HTTP client a production TSA would see. An unreachable authority is a transient error:
the build is retried, never marked failed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from batches import pki
from batches.models import BatchDocument, DocumentKind, DocumentStatus
from batches.pdf.render import render
from batches.pdf.signing import SEAL_FIELD, asn1_certificate, seal_pdf
from batches.pdf.verify import check_seal
from batches.release import documents
from tests.factories import Personas, quarantined_batch
from tests.sample_snapshot import sample_snapshot


def _tsa_certificate() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test timestamp authority")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


class TimestampAuthority:
    """An RFC 3161 server on 127.0.0.1 that counts the requests it answered."""

    def __init__(self) -> None:
        cert, key = _tsa_certificate()
        self.certificate = asn1_certificate(cert)
        der_key = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        stamper = DummyTimeStamper(tsa_cert=self.certificate, tsa_key=asn1_keys.PrivateKeyInfo.load(der_key))
        self.answered = 0
        authority = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the name http.server dispatches to
                body = self.rfile.read(int(self.headers["Content-Length"]))
                reply = stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
                authority.answered += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.pem = cert.public_bytes(serialization.Encoding.PEM)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsa"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tsa() -> Iterator[TimestampAuthority]:
    authority = TimestampAuthority()
    yield authority
    authority.close()


@pytest.mark.urs("URS-092")
def test_with_a_timestamp_authority_the_seal_is_pades_b_t(
    signing_pki, settings, tmp_path, tsa: TimestampAuthority
) -> None:
    settings.CELLBATCH_TSA_URL = tsa.url
    pdf, _ = render(sample_snapshot(audit_events=3))

    sealed = seal_pdf(pdf, title="B-T check")

    assert tsa.answered == 1
    seal = next(s for s in PdfFileReader(BytesIO(sealed)).embedded_signatures if s.field_name == SEAL_FIELD)
    trust = [asn1_certificate(c) for c in pki.trust_roots()] + [tsa.certificate]
    status = validate_pdf_signature(seal, ValidationContext(trust_roots=trust, allow_fetching=False))
    assert (status.intact, status.valid, status.trusted, status.bottom_line) == (True, True, True, True)
    assert status.timestamp_validity is not None
    assert (status.timestamp_validity.intact, status.timestamp_validity.valid) == (True, True)
    assert status.timestamp_validity.trusted

    # The system's verification trusts the timestamp only when its authority's root is configured.
    settings.CELLBATCH_TSA_CA = ""
    unknown_authority = check_seal(sealed)
    assert (unknown_authority.intact, unknown_authority.trusted) == (True, False)
    assert "CELLBATCH_TSA_CA" in " ".join(unknown_authority.problems)
    (tmp_path / "tsa-ca.pem").write_bytes(tsa.pem)
    settings.CELLBATCH_TSA_CA = str(tmp_path / "tsa-ca.pem")
    known_authority = check_seal(sealed)
    assert (known_authority.intact, known_authority.trusted, known_authority.problems) == (True, True, [])
    assert known_authority.timestamped_at.startswith(str(datetime.now(UTC).year))
    # The TSA's root vouches for timestamps only: the seal still needs the organisation CA.
    settings.CELLBATCH_SIGNING_CA = str(tmp_path / "tsa-ca.pem")
    pki.reset_cache()
    try:
        assert check_seal(sealed).trusted is False
    finally:
        settings.CELLBATCH_SIGNING_CA = signing_pki["CELLBATCH_SIGNING_CA"]
        pki.reset_cache()
    flipped = bytearray(sealed)
    flipped[len(flipped) // 3] ^= 0x01
    assert check_seal(bytes(flipped)).intact is False


@pytest.mark.urs("URS-092")
def test_without_a_timestamp_authority_the_seal_is_pades_b_b(signing_pki, settings) -> None:
    settings.CELLBATCH_TSA_URL = ""
    sealed = seal_pdf(render(sample_snapshot(audit_events=3))[0], title="B-B check")
    seal = next(s for s in PdfFileReader(BytesIO(sealed)).embedded_signatures if s.field_name == SEAL_FIELD)
    status = validate_pdf_signature(seal, ValidationContext(trust_roots=[asn1_certificate(pki.trust_roots()[0])]))
    assert status.bottom_line
    assert status.timestamp_validity is None


@pytest.mark.django_db
@pytest.mark.urs("URS-097")
def test_an_unreachable_timestamp_authority_leaves_the_job_for_a_retry_not_failed(
    signing_pki, settings, tmp_path, people: Personas
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    closed = TimestampAuthority()
    closed.close()  # nothing listens on its port any more
    settings.CELLBATCH_TSA_URL = closed.url
    document = documents.document_request(
        batch=quarantined_batch(people), kind=DocumentKind.ON_REQUEST, actor=people.qa
    )

    with pytest.raises(OSError, match="timestamp"):
        documents.document_build(document_id=document.pk)

    document.refresh_from_db()
    assert (document.status, document.attempts, document.failure_reason) == (DocumentStatus.BUILDING, 1, "")
    assert not BatchDocument.objects.filter(status=DocumentStatus.SIGNED).exists()
