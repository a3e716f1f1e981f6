"""State-change actions, each declared once beside its service: who may take it, from which states,
and what it asks for (a reason, a password).

A declaration is read, never copied: the service's guard (role first, then the batch locked FOR UPDATE in
one of the source states), the batch page and the QA review page (which offer an action only where the
guard would let it pass), and the API (the action's route, its role gate and its request body). The
role × action × state matrix in docs/action-matrix.md is printed from these declarations
(scripts/action_matrix.py) and a test keeps it current.

A service binds itself to its declaration with ``@DECLARATION.implemented_by``; the declarations are
complete once the service modules are imported, which BatchesConfig.ready() does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured

from batches.exceptions import StateConflict
from batches.models import Batch
from batches.roles import Role, may_act, require_role
from batches.services.common import lock_batch
from batches.services.training import training_require
from batches.states import BatchStatus

Service = TypeVar("Service", bound=Callable[..., Any])

_DECLARED: dict[str, StateAction] = {}
_SERVICES: dict[str, Callable[..., Any]] = {}


@dataclass(frozen=True)
class StateAction:
    """One state change of a batch, as every entry point and its service see it."""

    slug: str
    label: str
    roles: tuple[Role, ...]
    source: tuple[BatchStatus, ...]
    needs_reason: bool = False
    needs_password: bool = False
    # A button of its own on the batch page (the others have their forms on the review page or the desk).
    on_batch_page: bool = False
    # The activity (batches.models.training.ProcedureActivity) whose procedure the actor must be currently
    # trained on; the batch's process definition names the procedure version. Empty: no training gate.
    procedure: str = ""

    def __post_init__(self) -> None:
        if self.slug in _DECLARED:
            raise ImproperlyConfigured(f"The state-change action {self.slug!r} is declared twice.")
        _DECLARED[self.slug] = self

    @property
    def service(self) -> Callable[..., Any]:
        try:
            return _SERVICES[self.slug]
        except KeyError:
            raise ImproperlyConfigured(f"No service implements the action {self.slug!r}.") from None

    def implemented_by(self, service: Service) -> Service:
        """Decorator: ``service`` is the one function that carries this action out."""
        if self.slug in _SERVICES:
            raise ImproperlyConfigured(f"The action {self.slug!r} already has a service.")
        _SERVICES[self.slug] = service
        return service

    def allowed_from(self, status: str) -> bool:
        return status in self.source

    def offered(self, batch: Batch, user: User) -> bool:
        """True when the guard would let ``user`` take this action on ``batch`` as it is now."""
        return self.allowed_from(batch.status) and may_act(user, *self.roles)

    def require_role(self, actor: User) -> None:
        require_role(actor, *self.roles, action=self.label)

    def lock(self, batch_id: int) -> Batch:
        """The batch locked FOR UPDATE, refused unless it is in one of the source states."""
        batch = lock_batch(batch_id)
        if not self.allowed_from(batch.status):
            states = " or ".join(BatchStatus(s).label.lower() for s in self.source)
            raise StateConflict(
                f"{self.label} is possible only when batch {batch.batch_number} is {states}; "
                f"it is {BatchStatus(batch.status).label.lower()}."
            )
        return batch

    def require_training(self, actor: User, batch: Batch) -> None:
        """The training gate: refused unless ``actor`` is currently trained on this action's procedure."""
        if self.procedure:
            training_require(actor, batch.process_definition, self.procedure)

    def guard(self, actor: User, batch_id: int) -> Batch:
        """Role first (a refusal takes no lock), then the locked batch in a source state, then training."""
        self.require_role(actor)
        batch = self.lock(batch_id)
        self.require_training(actor, batch)
        return batch


def declared_actions() -> list[StateAction]:
    """Every declared action, in declaration order (manufacturing, disposition, delivery, closure)."""
    return list(_DECLARED.values())


def action(slug: str) -> StateAction:
    return _DECLARED[slug]


def offered_actions(batch: Batch, user: User, actions: Iterable[StateAction]) -> list[StateAction]:
    return [a for a in actions if a.offered(batch, user)]
