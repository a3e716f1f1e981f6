"""The organisation seal: development certificates, signing and verification of bytes."""

from __future__ import annotations

from batches import pki


def test_seal_signs_and_verifies_and_detects_a_changed_byte(signing_pki: dict[str, str]) -> None:
    signature = pki.sign_bytes(b"checkpoint 42")
    assert pki.verify_bytes(b"checkpoint 42", signature)
    assert not pki.verify_bytes(b"checkpoint 43", signature)
    root = pki.trust_roots()[0]
    assert pki.organisation_certificate().issuer == root.subject
    assert len(pki.certificate_fingerprint(pki.organisation_certificate())) == 64
