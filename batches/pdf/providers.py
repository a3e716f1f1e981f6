"""Where the sections owned by other parts of the system come from.

Each section of the record that another module owns is filled by one function, named here by its
dotted path. The function takes the batch and returns a list of plain dicts (keys as in the
matching dataclass of :mod:`batches.pdf.snapshot`); the checkpoint provider takes nothing and
returns one dict or None. A module or function that does not exist yet yields an empty section,
so the record can be issued before every part of the system is installed. Settings may override a
path with ``CELLBATCH_RECORD_PROVIDERS = {"qc_results": "pkg.module.function", ...}``.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from batches.models import Batch

DEFAULT_PROVIDERS: dict[str, str] = {
    "qc_results": "qc.selectors.batch_record_qc_results",
    "deviations": "qc.selectors.batch_record_deviations",
    "release": "batches.services.release.batch_record_release",
    "infusion": "batches.services.delivery.batch_record_infusion",
    "coi_id": "batches.services.identity.batch_record_coi_id",
    "checkpoint": "batches.services.ledger.batch_record_checkpoint",
}
SECTIONS = ("qc_results", "deviations", "release", "infusion")


def resolve(name: str) -> Callable[..., Any] | None:
    """The provider function for ``name``, or None while its module or function does not exist."""
    path = {**DEFAULT_PROVIDERS, **getattr(settings, "CELLBATCH_RECORD_PROVIDERS", {})}.get(name)
    if not path:
        return None
    module_name, _, function = path.rpartition(".")
    try:
        if importlib.util.find_spec(module_name) is None:
            return None
    except ModuleNotFoundError:  # a missing parent package
        return None
    # A module that exists but fails to import is a real error and must surface.
    found = getattr(importlib.import_module(module_name), function, None)
    return found if callable(found) else None


def section_rows(name: str, batch: Batch) -> Sequence[Mapping[str, Any]]:
    provider = resolve(name)
    return list(provider(batch)) if provider else []


def coi_id(batch: Batch) -> str | None:
    provider = resolve("coi_id")
    value = provider(batch) if provider else getattr(batch, "coi_id", None)
    return str(value) if value else None


def current_checkpoint() -> Mapping[str, Any] | None:
    """The audit-ledger checkpoint current now, or None where no ledger is installed."""
    provider = resolve("checkpoint")
    result = provider() if provider else None
    return dict(result) if result else None
