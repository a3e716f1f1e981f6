"""Links other modules add to the batch page ("Audit trail", "Documents", ...).

A module registers its link once, at import time of its admin module::

    register_batch_link(section=AUDIT_TRAIL, label="Audit trail of this batch",
                        url=lambda batch: reverse("audit-batch", args=[batch.pk]))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.models import User

from batches.models import Batch
from batches.roles import Role, has_role

AUDIT_TRAIL = "Audit trail"
DOCUMENTS = "Documents"
SECTIONS = (AUDIT_TRAIL, DOCUMENTS)


@dataclass(frozen=True)
class BatchLink:
    section: str
    label: str
    url: Callable[[Batch], str]
    roles: tuple[Role, ...] = tuple(Role)


_registry: list[BatchLink] = []


def register_batch_link(
    *, section: str, label: str, url: Callable[[Batch], str], roles: tuple[Role, ...] = tuple(Role)
) -> None:
    """Show a link on every batch page (to users holding one of ``roles``); idempotent."""
    link = BatchLink(section=section, label=label, url=url, roles=roles)
    if not any(existing.section == section and existing.label == label for existing in _registry):
        _registry.append(link)


def batch_links(batch: Batch, user: User) -> list[tuple[str, list[tuple[str, str]]]]:
    """(section, [(label, url)]) with the fixed sections first, each possibly empty."""
    names = list(SECTIONS) + sorted({link.section for link in _registry} - set(SECTIONS))
    return [
        (
            name,
            [
                (link.label, link.url(batch))
                for link in _registry
                if link.section == name and has_role(user, *link.roles)
            ],
        )
        for name in names
    ]
