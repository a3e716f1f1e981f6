"""Audit capture: which tables are GMP records, and the context (actor, reason) their events carry.

Every GMP model is registered with :func:`gmp_model`; PostgreSQL triggers (django-pghistory)
then record each insert, update and delete, whatever path the write takes. Services open
:func:`audit_context` so that the events name the acting user and the reason for the change.

Each event row is self-contained: the context (actor, reason, request URL...) is copied into the
event as JSON when the statement runs, and the columns ``pgh_actor`` and ``pgh_db_role`` are
filled by the database itself. A write with no context at all (psql as another role) is
therefore still attributed, to ``db:<role>``. The event tables are append-only and cannot be
truncated; the ledger (batches.ledger) seals them into a hash chain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import pghistory
import pgtrigger
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models.expressions import RawSQL
from pghistory import runtime as pghistory_runtime
from pghistory.models import Event
from psycopg.pq import TransactionStatus

M = TypeVar("M", bound=type[models.Model])

GMP_MODELS: list[type[models.Model]] = []

# The context pghistory sets for the current transaction (NULL outside any context).
CONTEXT_SQL = "NULLIF(current_setting('pghistory.context_metadata', true), '')::jsonb"
# The database role of the application (batches.dbrole). Only this role may name the actor.
APP_ROLE = "cellbatch_app"
# Never empty: the actor named by the context when the application's role wrote the row, else the
# database role that ran the statement (a context set from psql by any other role names no one).
ACTOR_SQL = (
    f"COALESCE(CASE WHEN current_user = '{APP_ROLE}' THEN NULLIF(btrim({CONTEXT_SQL} ->> 'actor'), '') END, "
    "'db:' || current_user)"
)


class GmpEvent(Event):
    """Base of every GMP event table: who wrote it, as the database saw it."""

    pgh_actor = models.TextField(
        db_default=RawSQL(ACTOR_SQL, []),  # noqa: S611  # constant SQL, no input (a list: Django sums params)
        editable=False,
        help_text="User name or system:<task or command> (application role only), else db:<role>.",
    )
    pgh_db_role = models.TextField(
        db_default=RawSQL("current_user", ()), editable=False, help_text="The database role of the writing session."
    )

    class Meta:
        abstract = True
        # pghistory derives the tracked model's reverse accessor from this: ``obj.events``.
        verbose_name_plural = "events"


def reason_required() -> pgtrigger.Trigger:
    """Refuse an update or delete of GMP data whose transaction carries no reason for change."""
    # PostgreSQL runs BEFORE triggers in name order: this one, named to sort last, lets the more
    # specific guards (illegal status change, verified step read-only) give their message first.
    return pgtrigger.Trigger(
        name="write_needs_reason",
        when=pgtrigger.Before,
        operation=pgtrigger.Update | pgtrigger.Delete,
        func=(
            "IF TG_OP = 'UPDATE' AND OLD IS NOT DISTINCT FROM NEW THEN RETURN NEW; END IF; "
            f"IF COALESCE(btrim({CONTEXT_SQL} ->> 'reason'), '') = '' THEN "
            "RAISE EXCEPTION 'A reason for change is required to % % row %; nothing was written.', "
            "lower(TG_OP), TG_TABLE_NAME, OLD.id USING ERRCODE = 'check_violation', "
            "HINT = 'Change GMP data through the application, which asks for the reason.'; "
            "END IF; "
            "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW;"
        ),
    )


def no_truncate(name: str = "no_truncate") -> pgtrigger.Trigger:
    """TRUNCATE fires no row trigger: it would delete records and their history without an event."""
    return pgtrigger.Trigger(
        name=name,
        when=pgtrigger.Before,
        operation=pgtrigger.Truncate,
        level=pgtrigger.Statement,
        func="RAISE EXCEPTION 'Table % is append-only: TRUNCATE is refused.', TG_TABLE_NAME "
        "USING ERRCODE = 'insufficient_privilege'; RETURN NULL;",
    )


def gmp_model(model: M) -> M:
    """Register ``model`` as a GMP record and track every change to it in an append-only event table."""
    return _track(model, exclude=(), guards=(reason_required(), no_truncate("gmp_no_truncate")))


def account_model(*, exclude: tuple[str, ...] = ()) -> Callable[[M], M]:
    """Track an account table (users, role grants, API tokens) like a GMP record, without ``exclude``.

    No reason is demanded: these rows change through Django's own login and admin code (the last
    login time, a role ticked on the user form), which asks for none; the events still name the
    actor. A secret (password hash, token digest) or noise (last login) is left out with ``exclude``.
    """
    return lambda model: _track(model, exclude=exclude, guards=(no_truncate("gmp_no_truncate"),))


def _track(model: M, *, exclude: tuple[str, ...], guards: tuple[pgtrigger.Trigger, ...]) -> M:
    tracked = pghistory.track(
        pghistory.InsertEvent(),
        pghistory.UpdateEvent(),
        pghistory.DeleteEvent(),
        exclude=list(exclude),
        append_only=True,
        model_name=f"{model.__name__}Event",
        base_model=GmpEvent,
        context_field=pghistory.ContextJSONField(),
        meta={"triggers": [no_truncate("append_only_no_truncate")]},
    )(model)
    pgtrigger.register(*guards)(tracked)
    GMP_MODELS.append(tracked)
    return tracked


def event_model(model: type[models.Model]) -> type[GmpEvent]:
    """The event table of a GMP model."""
    events = model._meta.get_field("events").related_model
    if not (isinstance(events, type) and issubclass(events, GmpEvent)):
        raise TypeError(f"{model._meta.label} is not a GMP model")
    return events


def truncate_guard_uris() -> list[str]:
    """Every TRUNCATE guard, as pgtrigger URIs (the test suite empties tables between tests)."""
    ledger = ("AuditSeal", "AuditCheckpoint", "AuditVerification", "IntegrityFinding", "SchemaChange")
    uris = [f"batches.{name}:ledger_no_truncate" for name in ledger]
    for model in GMP_MODELS:
        uris.append(f"{model._meta.label}:gmp_no_truncate")
        uris.append(f"{event_model(model)._meta.label}:append_only_no_truncate")
    return uris


def actor_label(user: User | str) -> str:
    """``username`` for a person, ``system:<name>`` for a task or command; never empty."""
    if isinstance(user, str):
        if not user.strip():
            raise ValueError("an audit actor is never empty")
        return user if user.startswith("system:") else f"system:{user}"
    return str(user.get_username())


def _forget_transaction_context() -> None:
    """pghistory's settings last until the transaction ends: clear them so that later writes of the
    same transaction, outside any context, are not attributed to this actor and reason."""
    if not connection.in_atomic_block or connection.connection is None:
        return
    if connection.connection.info.transaction_status == TransactionStatus.INERROR:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pghistory.context_metadata', '', true), set_config('pghistory.context_id', '', true)"
        )


def current_actor() -> str:
    """The actor of the audit context in force ("" outside any): a user name or ``system:<name>``."""
    current = getattr(pghistory_runtime._tracker, "value", None)
    return str(current.metadata.get("actor") or "") if current is not None else ""


def as_actor(label: str, *, default: str) -> User | str:
    """The person an actor label names (so that a nested context names them, not ``system:<name>``),
    else the label itself, else ``default``."""
    if label and not label.startswith(("system:", "db:")) and label != "anonymous":
        person = User.objects.filter(username=label).first()
        if person is not None:
            return person
    return label if label.startswith("system:") else default


def current_reason() -> str:
    current = getattr(pghistory_runtime._tracker, "value", None)
    return str(current.metadata.get("reason") or "") if current is not None else ""


@contextmanager
def audit_context(actor: User | str, reason: str = "", **extra: object) -> Iterator[None]:
    """Attach actor and reason to every audit event written inside the block.

    Nested inside another context (a request, a task), the outer metadata is restored on exit,
    so a reason never leaks onto later writes of the same request.
    """
    user_id = None if isinstance(actor, str) else actor.pk
    metadata = {"actor": actor_label(actor), "user": user_id, "reason": reason.strip(), **extra}
    tracker = pghistory_runtime._tracker  # pghistory has no public API to pop nested metadata
    current = getattr(tracker, "value", None)
    if current is None:
        try:
            with pghistory.context(**metadata):
                yield
        finally:
            _forget_transaction_context()
        return
    saved = dict(current.metadata)
    current.metadata.update(metadata)
    try:
        yield
    finally:
        current.metadata.clear()
        current.metadata.update(saved)


def require_reason(reason: str, *, what: str) -> str:
    """The reason for a change, stripped; refused when missing or too short to mean anything (Annex 11 §9)."""
    cleaned = (reason or "").strip()
    if len(cleaned) < 5:
        raise ValidationError({"reason": f"A reason (at least 5 characters) is required to {what}."})
    return cleaned
