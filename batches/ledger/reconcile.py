"""Row reconciliation: every GMP row equals its last audited state, none exists without history and
none vanished. Every broken row is listed (up to ``LIST_LIMIT`` per table, then counted), with the
batch it belongs to."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection, models

from batches.ledger.chain import event_tables
from batches.ledger.findings import LIST_LIMIT, Finding, Report, Start
from batches.ledger.trail_sql import batch_lookup
from batches.models.integrity import FindingKind
from batches.models.ledger import AuditSeal


def tracked_columns(model: type[models.Model], events: type[models.Model]) -> list[str]:
    names = {f.column for f in model._meta.concrete_fields}
    return [f.column for f in events._meta.concrete_fields if f.column and f.column in names]


def _as_dict(value: object) -> dict[str, object]:
    return json.loads(value) if isinstance(value, str) else dict(value)  # type: ignore[call-overload]


def _row_difference(cursor: Any, table: str, event_table: str, columns: list[str], pk: int) -> str:
    cursor.execute(f'SELECT to_jsonb(t) FROM "{table}" AS t WHERE t."id" = %s', [pk])
    current = cursor.fetchone()
    cursor.execute(
        f'SELECT to_jsonb(e) FROM "{event_table}" AS e WHERE e."pgh_obj_id" = %s ORDER BY e."pgh_id" DESC LIMIT 1',
        [pk],
    )
    audited = cursor.fetchone()
    if not current or not audited:
        return ""
    now, then = _as_dict(current[0]), _as_dict(audited[0])
    changed = [c for c in columns if now.get(c) != then.get(c)]
    return f" (changed: {', '.join(changed)})" if changed else ""


def _batch_sql(model: type[models.Model]) -> str:
    lookup = batch_lookup(model)
    if lookup == "pgh_obj_id":
        return 'COALESCE(t."id", last."pgh_obj_id")'
    if lookup == "batch_id":
        return 'COALESCE(t."batch_id", last."batch_id")'
    return "NULL::bigint"


def _last_events(event_table: str, label: str, start: Start, first: int) -> tuple[str, list[int | str]]:
    """The latest event of each object to compare (SQL and parameters).

    A full run: every object. An incremental run: the objects with a new event, whose latest event is
    then itself new (only the new events are read), and the few whose event was sealed late (an id at
    or below the last run's mark, sealed after its head), whose whole history is read. ``first``, the
    smallest event id sealed after the head, bounds the read of the seal index to its new part.
    """
    if start.marks is None:
        # The latest event id of each object from an aggregate of ids only, then those events by primary
        # key: sorting every whole event row to keep each object's last one spilled to disk.
        return (
            f'SELECT e.* FROM "{event_table}" AS e JOIN (SELECT max("pgh_id") AS "pgh_id" FROM "{event_table}" '
            f'GROUP BY "pgh_obj_id") AS latest ON latest."pgh_id" = e."pgh_id"',
            [],
        )
    seal_table, mark = AuditSeal._meta.db_table, start.last_event(label)
    sql = (
        f'SELECT DISTINCT ON ("pgh_obj_id") * FROM (SELECT * FROM "{event_table}" WHERE "pgh_id" > %s '
        f'UNION ALL SELECT * FROM "{event_table}" WHERE "pgh_id" <= %s AND "pgh_obj_id" IN ('
        f'SELECT e."pgh_obj_id" FROM "{seal_table}" AS s JOIN "{event_table}" AS e ON e."pgh_id" = s."event_id" '
        f'WHERE s."event_model" = %s AND s."event_id" BETWEEN %s AND %s AND s."sequence" > %s)) AS touched '
        f'ORDER BY "pgh_obj_id", "pgh_id" DESC'
    )
    return sql, [mark, mark, label, first, mark, start.sequence]


def reconcile(report: Report, start: Start) -> None:
    """Every GMP row equals its latest event. After an intact run only the rows with new events are
    compared (see _last_events). A row changed with every trigger off leaves no event: only a full run
    finds it."""
    with connection.cursor() as cursor:
        for label, model, events in event_tables():
            if start.marks is not None and not report.touched(label, start):
                continue  # no new event and no new seal: nothing of this table changed since the last run
            table, event_table = model._meta.db_table, events._meta.db_table
            columns = tracked_columns(model, events)
            current = ", ".join(f't."{c}"' for c in columns)
            audited = ", ".join(f'last."{c}"' for c in columns)
            first = (report.new_seal_labels or {}).get(label, start.last_event(label) + 1)
            last_sql, params = _last_events(event_table, label, start, first)
            # A full run streams the latest events into the join and counts the table's rows afterwards; an
            # incremental run keeps its few latest events and counts them as the rows it compared.
            full = start.marks is None
            join, keep = ("FULL OUTER JOIN", "NOT MATERIALIZED") if full else ("RIGHT JOIN", "MATERIALIZED")
            counted = "0" if full else "(SELECT count(*) FROM last)"
            cursor.execute(
                f"WITH last AS {keep} ({last_sql}), broken AS MATERIALIZED ("
                f'SELECT COALESCE(t."id", last."pgh_obj_id") AS id, '
                f"CASE WHEN last.\"pgh_obj_id\" IS NULL THEN 'has no audit event' "
                f"WHEN t.\"id\" IS NULL THEN 'was deleted without an audit event' "
                f"WHEN last.\"pgh_label\" = 'delete' THEN 'exists although its last audit event is its deletion' "
                f"ELSE 'differs from its last audited state' END AS what, {_batch_sql(model)} AS batch "
                f'FROM "{table}" AS t {join} last ON last."pgh_obj_id" = t."id" '
                f'WHERE last."pgh_obj_id" IS NULL '
                f'OR (t."id" IS NULL AND last."pgh_label" <> \'delete\') '
                f'OR (t."id" IS NOT NULL AND last."pgh_label" = \'delete\') '
                f'OR (t."id" IS NOT NULL AND ({current}) IS DISTINCT FROM ({audited}))) '
                f"SELECT {counted}, (SELECT count(*) FROM broken), "
                f"(SELECT json_agg(json_build_array(b.id, b.what, b.batch) ORDER BY b.id) FROM "
                f"(SELECT * FROM broken ORDER BY id LIMIT {LIST_LIMIT}) AS b)",
                params,
            )
            objects, total, listed = cursor.fetchone()
            listed = json.loads(listed) if isinstance(listed, str) else listed or []
            for pk, what, batch_id in listed:
                detail = _row_difference(cursor, table, event_table, columns, pk) if "differs" in what else ""
                report.add(
                    Finding(
                        FindingKind.ROW,
                        f"{model._meta.label} row {pk} {what}{detail}.",
                        model._meta.label,
                        pk,
                        batch_id,
                    )
                )
            if total > len(listed):
                report.add(
                    Finding(
                        FindingKind.ROW,
                        f"{model._meta.label}: {total - len(listed)} more broken rows not listed.",
                        model._meta.label,
                    )
                )
            if full:
                cursor.execute(f'SELECT count(*) FROM "{table}"')
                objects = cursor.fetchone()[0]
            report.rows += objects
