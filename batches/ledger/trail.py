"""Reading the audit trail: events as entries with old → new values, per record, batch or user."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext, pgettext_lazy

from batches.audit import GMP_MODELS, GmpEvent, event_model
from batches.ledger.trail_sql import batch_events_sql, batch_lookup, event_from_json, latest_events_sql, stamp_sql
from batches.models import Batch

# What each kind of event did, in the reader's language (read when shown): the "Action" and "What" columns.
ACTIONS = {
    "insert": pgettext_lazy("audit action", "created"),
    "update": pgettext_lazy("audit action", "changed"),
    "delete": pgettext_lazy("audit action", "deleted"),
    "snapshot": pgettext_lazy("audit action", "recorded as found"),
}
# A yes/no field's stored value (display() writes it "true" / "false") as the reader says it.
YES_NO = {"true": pgettext_lazy("audit value", "true"), "false": pgettext_lazy("audit value", "false")}


@dataclass(frozen=True)
class Change:
    field: str
    label: str
    old: str | None
    new: str | None
    # How the values read (in_words): a user id as the person ("Marta Gil (mgil) #3"), a yes/no or a
    # choice's code ("signed") in the reader's words; the stored value stays in old/new and in the export.
    old_words: str | None = None
    new_words: str | None = None
    names_user: bool = False
    yes_no: bool = False
    choices: tuple[tuple[str, Any], ...] = ()

    @property
    def old_text(self) -> str | None:
        return self.old_words or self.old

    @property
    def new_text(self) -> str | None:
        return self.new_words or self.new


@dataclass(frozen=True)
class Entry:
    """One audit event, as shown to a reviewer."""

    event: str  # "<app>.<EventModel>:<pgh_id>", unique across the trail
    record: str  # "<app>.<Model>"
    record_name: str
    object_id: int
    action: str  # insert / update / delete
    at: datetime  # server time, UTC
    actor: str
    db_role: str
    reason: str
    changes: tuple[Change, ...] = field(default_factory=tuple)

    @property
    def at_local(self) -> datetime:
        return timezone.localtime(self.at)

    @property
    def at_utc_iso(self) -> str:
        return self.at.astimezone(UTC).isoformat()

    @property
    def at_local_iso(self) -> str:
        return self.at_local.isoformat()

    @property
    def action_label(self) -> str:
        return str(ACTIONS.get(self.action, self.action))

    @property
    def record_label(self) -> str:
        """Which record, in the reader's language: "Batch #12"."""
        return gettext("%(record)s #%(id)s") % {"record": capfirst(self.record_name), "id": self.object_id}

    @property
    def summary(self) -> str:
        """What happened to which record: "Batch #12 created"."""
        return gettext("%(record)s %(action)s") % {"record": self.record_label, "action": self.action_label}

    @property
    def diff(self) -> dict[str, tuple[str | None, str | None]]:
        return {c.field: (c.old, c.new) for c in self.changes}

    def as_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "record": self.record,
            "record_name": self.record_name,
            "object_id": self.object_id,
            "action": self.action,
            "at_utc": self.at_utc_iso,
            "at_local": self.at_local_iso,
            "actor": self.actor,
            "db_role": self.db_role,
            "reason": self.reason,
            "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in self.changes],
        }


def display(value: Any) -> str | None:
    """A stored value as text: UTC ISO times, exact decimals, JSON as compact text."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date | Decimal):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes | memoryview):  # a file's bytes: their digest and size, not Python's notation
        return f"SHA-256 {hashlib.sha256(value).hexdigest()} ({len(value)} B)"
    if isinstance(value, dict | list):  # a JSON field's content as JSON, not as Python writes it
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), cls=DjangoJSONEncoder)
    return str(value)


def _tracked_fields(model: type[models.Model], events: type[GmpEvent]) -> list[models.Field]:
    names = {f.name for f in model._meta.concrete_fields}
    return [f for f in events._meta.concrete_fields if f.name in names]


def _entries(model: type[models.Model], events: Iterable[GmpEvent]) -> list[Entry]:
    """Entries of one model's events (all events of each object, in order, so diffs are complete)."""
    fields = _tracked_fields(model, event_model(model))
    by_object: dict[int, list[GmpEvent]] = defaultdict(list)
    for event in events:
        by_object[event.pgh_obj_id].append(event)  # type: ignore[attr-defined]
    labels = _labels(model, fields)
    choices = _choices(model)
    entries = []
    for history in by_object.values():
        previous: GmpEvent | None = None
        for event in sorted(history, key=lambda e: e.pgh_id):
            entries.append(_entry(model, fields, labels, choices, event, previous))
            previous = event
    return entries


def _entry(
    model: type[models.Model],
    fields: list[models.Field],
    labels: dict[str, str],
    choices: dict[str, tuple[tuple[str, Any], ...]],
    event: GmpEvent,
    previous: GmpEvent | None,
) -> Entry:
    """One event as an entry: what changed since ``previous``, the object's event before it (None: none)."""
    values = {f.attname: display(getattr(event, f.attname)) for f in fields}
    before = None if previous is None else {f.attname: display(getattr(previous, f.attname)) for f in fields}
    changes = []
    for f in fields:
        old = None if before is None else before[f.attname]
        new = None if event.pgh_label == "delete" else values[f.attname]
        if event.pgh_label == "delete":
            old = values[f.attname]
        if old != new:
            names_user = getattr(f, "related_model", None) is User
            yes_no = isinstance(f, models.BooleanField)
            changes.append(
                Change(
                    f.attname,
                    labels[f.attname],
                    old,
                    new,
                    names_user=names_user,
                    yes_no=yes_no,
                    choices=choices.get(f.attname, ()),
                )
            )
    context = event.pgh_context or {}  # type: ignore[attr-defined]
    return Entry(
        event=f"{event_model(model)._meta.label}:{event.pgh_id}",
        record=model._meta.label,
        record_name=str(model._meta.verbose_name),
        object_id=event.pgh_obj_id,  # type: ignore[attr-defined]
        action=event.pgh_label,
        at=event.pgh_created_at,
        actor=event.pgh_actor,
        db_role=event.pgh_db_role,
        reason=str(context.get("reason") or ""),
        changes=tuple(changes),
    )


def _labels(model: type[models.Model], fields: list[models.Field]) -> dict[str, str]:
    """Each field's label, worked out once per model (a first event changes every field)."""
    return {f.attname: _label(model, f) for f in fields}


@functools.cache
def _choices(model: type[models.Model]) -> dict[str, tuple[tuple[str, Any], ...]]:
    """Each choice field's codes (as display() writes them) and labels, read from the tracked model."""
    found = {}
    for f in _tracked_fields(model, event_model(model)):
        tracked = model._meta.get_field(f.name)
        if isinstance(tracked, models.Field) and tracked.choices:
            found[f.attname] = tuple((str(code), label) for code, label in tracked.flatchoices)
    return found


def _label(model: type[models.Model], f: models.Field[Any, Any]) -> str:
    """The field's label as the forms show it, in the reader's language: the tracked model's verbose name
    (marked for translation by batches.model_labels; the event table's copy of the field is not)."""
    return _label_in(model, f, translation.get_language())


@functools.cache
def _label_in(model: type[models.Model], f: models.Field[Any, Any], language: str | None) -> str:
    """_label, worked out once per field and language (a record's appendix asks for it at every change)."""
    tracked = model._meta.get_field(f.name)
    return capfirst(str(tracked.verbose_name if isinstance(tracked, models.Field) else f.verbose_name))


def in_words(entries: list[Entry]) -> list[Entry]:
    """The same entries with every person named by a user id also named in words (one query), and every
    yes/no and choice in the reader's language.

    For what people read (the admin's trail pages, the signed record); the readings above stay one query.
    """
    ids = {int(v) for e in entries for c in e.changes if c.names_user for v in (c.old, c.new) if v and v.isdigit()}
    names = {
        str(user.pk): f"{user.get_full_name().strip() or user.get_username()} ({user.get_username()}) #{user.pk}"
        for user in (User.objects.filter(pk__in=ids) if ids else ())
    }
    yes_no = {value: str(word) for value, word in YES_NO.items()}
    chosen: dict[int, dict[str, str]] = {}  # each field's choices translated once, not at every change
    return [
        dataclasses.replace(e, changes=tuple(_in_words(c, names, yes_no, chosen) for c in e.changes)) for e in entries
    ]


def _in_words(
    change: Change, names: dict[str, str], yes_no: dict[str, str], chosen: dict[int, dict[str, str]]
) -> Change:
    words = names if change.names_user else yes_no if change.yes_no else None
    if change.choices:  # the same tuple for every change of the field (_choices is cached per model)
        words = chosen.get(id(change.choices))
        if words is None:
            words = chosen[id(change.choices)] = {code: str(label) for code, label in change.choices}
    if words is None:
        return change
    return dataclasses.replace(change, old_words=words.get(change.old or ""), new_words=words.get(change.new or ""))


def _ordered(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: (e.at, e.event))


def _events(model: type[models.Model]) -> Any:
    """The event table's manager (its fields are generated, so typed loosely)."""
    return event_model(model).objects


def events_for_object(obj: models.Model) -> list[Entry]:
    model = type(obj)._meta.concrete_model or type(obj)
    return _ordered(_entries(model, _events(model).filter(pgh_obj_id=obj.pk)))


def batch_trail(batch: Batch, *, excluding: frozenset[str] = frozenset()) -> list[Entry]:
    """Every audit event of the batch and of the records that belong to it, oldest first.

    ``excluding`` names records ("<app>.<Model>") whose events are not read at all.
    """
    models_ = tuple(m for m in GMP_MODELS if m._meta.label not in excluding and batch_lookup(m))
    if not models_:
        return []
    rows: dict[type[models.Model], list[GmpEvent]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(batch_events_sql(models_), [batch.pk] * len(models_))
        for index, row in cursor.fetchall():
            model = models_[index]
            rows[model].append(event_from_json(event_model(model), row))
    entries: list[Entry] = []
    for model, events in rows.items():
        entries += _entries(model, events)
    return _ordered(entries)


def user_activity(username: str, *, limit: int = 1000) -> list[Entry]:
    """The latest audit events a user made (with their full old → new values), newest first."""
    entries: list[Entry] = []
    for model in GMP_MODELS:
        events = _events(model)
        mine = events.filter(pgh_actor=username).order_by("-pgh_id")[:limit]
        objects = {e.pgh_obj_id for e in mine}
        wanted = {f"{event_model(model)._meta.label}:{e.pgh_id}" for e in mine}
        history = events.filter(pgh_obj_id__in=objects)
        entries += [e for e in _entries(model, history) if e.event in wanted]
    return sorted(entries, key=lambda e: (e.at, e.event), reverse=True)[:limit]


def latest_batch_entries(batch: Batch, limit: int) -> list[Entry]:
    """The batch's ``limit`` latest audit events, newest first, each with its complete diff.

    One query whatever the length of the trail: each event table gives its latest events with the
    event before each (``lag`` over the object's events), so the batch page can show the newest
    entries of a batch with thousands of events without reading them all.
    """
    models_ = tuple(m for m in GMP_MODELS if batch_lookup(m))
    entries: list[Entry] = []
    with connection.cursor() as cursor:
        cursor.execute(latest_events_sql(models_, limit), [batch.pk] * len(models_))
        for index, row, before in cursor.fetchall():
            model = models_[index]
            events = event_model(model)
            previous = event_from_json(events, before) if before else None
            fields = _tracked_fields(model, events)
            labels, choices = _labels(model, fields), _choices(model)
            entries.append(_entry(model, fields, labels, choices, event_from_json(events, row), previous))
    return in_words(sorted(entries, key=lambda e: (e.at, e.event), reverse=True)[:limit])


def batch_trail_stamp(batch: Batch) -> str:
    """A short token that changes with every audit event of the batch and of its records.

    The event tables are append-only, so the number of the batch's events in each grows with every write,
    whatever order concurrent transactions commit in: the pages that wait for someone else's work
    (batches.views.live) compare this token instead of drawing themselves again. One query, one index
    range per event table.
    """
    models_ = tuple(m for m in GMP_MODELS if batch_lookup(m))
    with connection.cursor() as cursor:
        cursor.execute(stamp_sql(models_), [batch.pk] * len(models_))
        row = cursor.fetchone()
    return hashlib.sha256(repr(row).encode()).hexdigest()[:16]
