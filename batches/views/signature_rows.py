"""The batch page's table of signatures: each signature with its record, times and integrity state."""

from __future__ import annotations

from typing import Any

from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from batches import formatting
from batches.models import Batch
from batches.signature_checks import SignatureState, signature_states

SIGNATURE_CELLS = {
    SignatureState.VALID: (_("Valid"), "cb-sig-valid"),
    SignatureState.INVALIDATED: (_("Invalidated"), "cb-sig-invalidated"),
    SignatureState.INVALID: ("INVALID", "cb-sig-invalid"),
}


def signature_rows(batch: Batch, steps_by_kind: list[Any]) -> list[dict[str, Any]]:
    titles = {(view.step._meta.model_name, view.step.pk): view.title for s in steps_by_kind for view in s.steps}
    # A manifest (several records signed in one act) reads as what its signer declared.
    titles |= {("signaturemanifest", m.pk): m.statement for m in batch.signature_manifests.all()}
    rows = []
    # Checked all at once: the signed records load in one query per record type, not one per signature.
    for check in signature_states(batch):
        sig = check.signature
        state, css = SIGNATURE_CELLS[check.state]
        rows.append(
            {
                "signature": sig,
                "record": titles.get((sig.content_type.model, sig.object_id))
                or f"{capfirst(sig.content_type.name)} #{sig.object_id}",
                "utc": formatting.moment_utc(sig.signed_at),
                "local": formatting.moment(sig.signed_at, seconds=True),
                "state": state,
                "css": css,
            }
        )
    return rows
