"""Seal a rendered record with the organisation certificate (PAdES B-B, or B-T with a TSA).

The record is *certified* (DocMDP) with form filling allowed, and an empty field for the
Qualified Person's signature is created before certifying: a certification that forbids all
changes would make the QP's later signature break it. The signer is built once per process with
the key already loaded, and the signature size is fixed, so each seal costs one RSA operation.
"""

from __future__ import annotations

from functools import lru_cache
from io import BytesIO

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from django.conf import settings
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.general import get_pyca_cryptography_hash
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from batches import pki

SEAL_FIELD = "OrganisationSeal"
QP_FIELD = "QualifiedPersonSignature"
# DER bytes reserved for the CMS signature: the seal, its chain and (B-T) a timestamp token fit easily.
RESERVED_B_B = 8192
RESERVED_B_T = 16384


def asn1_certificate(cert: object) -> asn1_x509.Certificate:
    from cryptography import x509

    if not isinstance(cert, x509.Certificate):
        raise TypeError(f"expected an X.509 certificate, not {type(cert).__name__}")
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


class LoadedKeySigner(signers.SimpleSigner):
    """pyHanko's SimpleSigner re-parses the private key on every signature; this one keeps it loaded."""

    def __init__(self) -> None:
        key = pki.organisation_key()
        der = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        super().__init__(
            signing_cert=asn1_certificate(pki.organisation_certificate()),
            signing_key=asn1_keys.PrivateKeyInfo.load(der),
            cert_registry=SimpleCertificateStore.from_certs([asn1_certificate(c) for c in pki.trust_roots()]),
        )
        self._key = key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        return self._key.sign(data, padding.PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))


@lru_cache(maxsize=2)
def _signer_for(key_path: str, cert_path: str, ca_path: str) -> LoadedKeySigner:
    return LoadedKeySigner()


def organisation_signer() -> LoadedKeySigner:
    """The signer of this process, built once for the configured key and certificates."""
    return _signer_for(settings.CELLBATCH_SIGNING_KEY, settings.CELLBATCH_SIGNING_CERT, settings.CELLBATCH_SIGNING_CA)


def seal_pdf(pdf: bytes, *, title: str) -> bytes:
    """``pdf`` certified with the organisation seal; an empty QP signature field is kept for later."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    fields.append_signature_field(writer, fields.SigFieldSpec(QP_FIELD))
    tsa_url = settings.CELLBATCH_TSA_URL
    meta = signers.PdfSignatureMetadata(
        field_name=SEAL_FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        certify=True,
        docmdp_permissions=fields.MDPPerm.FILL_FORMS,
        reason=f"Issued by {settings.CELLBATCH_ORGANISATION_NAME}: {title}",
        name=settings.CELLBATCH_ORGANISATION_NAME,
    )
    pdf_signer = signers.PdfSigner(
        meta,
        organisation_signer(),
        timestamper=HTTPTimeStamper(tsa_url) if tsa_url else None,
        new_field_spec=fields.SigFieldSpec(SEAL_FIELD),
    )
    out = pdf_signer.sign_pdf(writer, bytes_reserved=RESERVED_B_T if tsa_url else RESERVED_B_B)
    return bytes(out.getbuffer())
