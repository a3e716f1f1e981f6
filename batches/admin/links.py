"""Links other modules add to the batch page ("Audit trail", "Documents", ...).

A module registers its link once, at import time of its admin module::

    register_batch_link(section=AUDIT_TRAIL, label="Audit trail of this batch",
                        url=lambda batch: reverse("audit-batch", args=[batch.pk]))

A link may apply only in some states (``when``); a module that lists several records per batch (the
documents, say) registers a provider that returns the links for one batch instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.models import User

from batches.models import Batch
from batches.roles import Role, has_role

AUDIT_TRAIL = "Audit trail"
DOCUMENTS = "Documents"
QA_REVIEW = "QA review"
DELIVERY = "Custody and delivery"
SECTIONS = (AUDIT_TRAIL, DOCUMENTS, QA_REVIEW, DELIVERY)

LinkList = list[tuple[str, str]]


def always(batch: Batch) -> bool:
    return True


@dataclass(frozen=True)
class BatchLink:
    section: str
    label: str
    url: Callable[[Batch], str]
    roles: tuple[Role, ...] = tuple(Role)
    when: Callable[[Batch], bool] = always


@dataclass(frozen=True)
class BatchLinkProvider:
    section: str
    name: str
    links: Callable[[Batch], LinkList]
    roles: tuple[Role, ...] = tuple(Role)


_registry: list[BatchLink] = []
_providers: list[BatchLinkProvider] = []


def register_batch_link(
    *,
    section: str,
    label: str,
    url: Callable[[Batch], str],
    roles: tuple[Role, ...] = tuple(Role),
    when: Callable[[Batch], bool] = always,
) -> None:
    """Show a link on every batch page (to users holding one of ``roles``, while ``when`` holds); idempotent."""
    link = BatchLink(section=section, label=label, url=url, roles=roles, when=when)
    if not any(existing.section == section and existing.label == label for existing in _registry):
        _registry.append(link)


def register_batch_links(
    *, section: str, name: str, links: Callable[[Batch], LinkList], roles: tuple[Role, ...] = tuple(Role)
) -> None:
    """Show the links ``links(batch)`` returns (one per record of the batch, say); idempotent by ``name``."""
    if not any(existing.name == name for existing in _providers):
        _providers.append(BatchLinkProvider(section=section, name=name, links=links, roles=roles))


def batch_links(batch: Batch, user: User) -> list[tuple[str, LinkList]]:
    """(section, [(label, url)]) with the fixed sections first, each possibly empty."""
    extra = {link.section for link in _registry} | {provider.section for provider in _providers}
    names = list(SECTIONS) + sorted(extra - set(SECTIONS))
    result = []
    for name in names:
        links = [
            (link.label, link.url(batch))
            for link in _registry
            if link.section == name and has_role(user, *link.roles) and link.when(batch)
        ]
        for provider in _providers:
            if provider.section == name and has_role(user, *provider.roles):
                links += provider.links(batch)
        result.append((name, links))
    return result
