"""Check a PDF's organisation seal with pyHanko: intact, and chained to the configured trust root.

pyHanko's ``valid`` only says the signature maths holds; a changed byte in the signed range shows
as ``intact=False``, so "intact" needs both. "Trusted" needs the seal certificate to chain to the
organisation's CA and, for a PAdES B-T record, the timestamp token to chain to a configured
timestamp-authority root (CELLBATCH_TSA_CA): the two are checked with separate trust anchors, so
neither CA can vouch for the other's certificates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from io import BytesIO

from cryptography.x509 import Certificate
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from batches import pki
from batches.pdf.signing import SEAL_FIELD, asn1_certificate


@dataclass
class SealCheck:
    intact: bool = False
    trusted: bool = False
    signer: str = ""
    signed_at: str = ""
    timestamped_at: str = ""  # the timestamp authority's time (PAdES B-T), "" without a timestamp
    problems: list[str] = field(default_factory=list)


def check_seal(data: bytes) -> SealCheck:
    """Validate the organisation seal of ``data``; any parsing failure counts as not intact."""
    result = SealCheck()
    try:
        reader = PdfFileReader(BytesIO(data), strict=False)
        seals = [s for s in reader.embedded_signatures if s.field_name == SEAL_FIELD]
        if not seals:
            result.problems.append("the file carries no organisation seal")
            return result
        status = validate_pdf_signature(
            seals[0], _context(pki.trust_roots()), ts_validation_context=_context(pki.timestamp_roots())
        )
    except Exception as exc:  # a damaged file raises from deep inside the parser: report, never crash
        result.problems.append(f"the file cannot be read as a signed PDF ({type(exc).__name__}: {exc})")
        return result
    # Unchanged: the signed bytes hash right, the signature verifies, and any later revision only
    # does what the certification allows (filling the QP's signature field), nothing else.
    modification_allowed = bool(status.docmdp_ok or status.modification_level is None)
    result.intact = bool(status.intact and status.valid and modification_allowed and status.seed_value_ok)
    result.signer = status.signing_cert.subject.human_friendly if status.signing_cert else ""
    result.signed_at = status.signer_reported_dt.isoformat() if status.signer_reported_dt else ""
    if not status.intact:
        result.problems.append("the content was changed after sealing (hash mismatch)")
    elif not status.valid:
        result.problems.append("the seal's cryptographic signature does not verify")
    elif not modification_allowed:
        result.problems.append("the file was changed after sealing beyond what the certification allows")
    if not status.trusted:
        result.problems.append("the seal certificate does not chain to the configured trust root")
    stamp = status.timestamp_validity
    stamp_trusted = True
    if stamp is not None:
        result.timestamped_at = stamp.timestamp.isoformat()
        stamp_trusted = bool(stamp.intact and stamp.valid and stamp.trusted)
        if not stamp_trusted:
            result.problems.append(
                "the timestamp does not verify against a configured timestamp-authority root (CELLBATCH_TSA_CA)"
            )
    result.trusted = bool(status.trusted) and stamp_trusted
    if result.intact and result.trusted and not status.bottom_line:  # any other constraint pyHanko checks
        result.intact = False
        result.problems.append("the seal fails pyHanko's overall validation")
    return result


def _context(roots: tuple[Certificate, ...]) -> ValidationContext:
    return ValidationContext(trust_roots=[asn1_certificate(c) for c in roots], allow_fetching=False)
