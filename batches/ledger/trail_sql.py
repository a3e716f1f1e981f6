"""The SQL that reads a batch's audit events in one round trip: every event table of the records that
belong to a batch, as rows of JSON read back into event instances (batches.ledger.trail shows them)."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime

from django.db import connection, models

from batches.audit import GmpEvent, event_model
from batches.models import Batch


def batch_lookup(model: type[models.Model]) -> str | None:
    """How a GMP model's events reach their batch: ``audit_batch_lookup`` on the model, or a ``batch`` field."""
    declared = getattr(model, "audit_batch_lookup", None)
    if declared:
        return str(declared)
    if model is Batch:
        return "pgh_obj_id"
    names = {f.name for f in model._meta.concrete_fields}
    return "batch_id" if "batch" in names else None


@functools.cache
def batch_events_sql(models_: tuple[type[models.Model], ...]) -> str:
    """One UNION ALL over the event tables of ``models_``: (model index, event row as JSON).

    One round trip instead of one query per table (a batch's records span some twenty tables).
    Decimal columns are carried as text so that "1.50" reads back as it does through the ORM.
    """
    quote = connection.ops.quote_name
    parts = []
    for index, model in enumerate(models_):
        events = event_model(model)
        table, column = quote(events._meta.db_table), quote(_batch_column(model))
        parts.append(f"SELECT {index}, ({_row_json(events, 'e')})::text FROM {table} e WHERE e.{column} = %s")
    return "\nUNION ALL\n".join(parts)


def event_from_json(events: type[GmpEvent], row: str) -> GmpEvent:
    """An event instance from its row as JSON, with each value as the ORM would have read it."""
    data = json.loads(row)
    values = []
    for f in events._meta.concrete_fields:
        value = f.to_python(data[f.column])
        if isinstance(value, datetime):
            value = value.astimezone(UTC)
        values.append(value)
    return events.from_db(connection.alias, [f.attname for f in events._meta.concrete_fields], values)


def _batch_column(model: type[models.Model]) -> str:
    """The column of the model's event table that names the batch."""
    events = event_model(model)
    return next(str(f.column) for f in events._meta.concrete_fields if batch_lookup(model) in (f.name, f.attname))


@functools.cache
def stamp_sql(models_: tuple[type[models.Model], ...]) -> str:
    quote = connection.ops.quote_name
    counts = [
        f"(SELECT count(*) FROM {quote(event_model(m)._meta.db_table)} WHERE {quote(_batch_column(m))} = %s)"
        for m in models_
    ]
    return f"SELECT {', '.join(counts)}"


@functools.cache
def latest_events_sql(models_: tuple[type[models.Model], ...], limit: int) -> str:
    quote = connection.ops.quote_name
    parts = []
    for index, model in enumerate(models_):
        events = event_model(model)
        row = _row_json(events, "e")
        parts.append(
            f"(SELECT {index}, row, lag(row) OVER (PARTITION BY pgh_obj_id ORDER BY pgh_id), pgh_created_at, pgh_id"
            f" FROM (SELECT e.pgh_obj_id, e.pgh_id, e.pgh_created_at, ({row})::text AS row"
            f" FROM {quote(events._meta.db_table)} e WHERE e.{quote(_batch_column(model))} = %s) AS events"
            f" ORDER BY pgh_created_at DESC, pgh_id DESC LIMIT {int(limit)})"
        )
    union = "\nUNION ALL\n".join(parts)
    columns = "x(idx, row, lag, at, id)"
    return f"SELECT x.idx, x.row, x.lag FROM ({union}) AS {columns} ORDER BY x.at DESC, x.id DESC LIMIT {int(limit)}"


def _row_json(events: type[GmpEvent], alias: str) -> str:
    """An event row as JSON; decimal columns as text so that "1.50" reads back as it does through the ORM."""
    quote = connection.ops.quote_name
    exact = [str(f.column) for f in events._meta.concrete_fields if isinstance(f, models.DecimalField)]
    row = f"to_jsonb({alias})"
    if exact:
        pairs = ", ".join(f"'{c}', {alias}.{quote(c)}::text" for c in exact)
        row += f" || jsonb_build_object({pairs})"
    return row
