"""Row reconciliation: every GMP row equals its last audited state, none exists without history and
none vanished. Every broken row is listed (up to ``LIST_LIMIT`` per table, then counted), with the
batch it belongs to."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection, models

from batches.ledger.chain import event_tables
from batches.ledger.findings import LIST_LIMIT, Finding, Report, Start
from batches.ledger.trail import batch_lookup
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


def reconcile(report: Report, start: Start) -> None:
    """After an intact run only the rows with new events are compared: those with an event newer than
    the run saw, or sealed after its head (an event committed late, with a lower id). A row changed
    with every trigger off leaves no event: only a full run finds it."""
    seal_table = AuditSeal._meta.db_table
    with connection.cursor() as cursor:
        for label, model, events in event_tables():
            if start.marks is not None and not report.touched(label, start):
                continue  # no new event and no new seal: nothing of this table changed since the last run
            table, event_table = model._meta.db_table, events._meta.db_table
            columns = tracked_columns(model, events)
            current = ", ".join(f't."{c}"' for c in columns)
            audited = ", ".join(f'last."{c}"' for c in columns)
            scope, join = "", "FULL OUTER JOIN"
            params: list[int | str] = []
            if start.marks is not None:
                scope = (
                    f'WHERE "pgh_obj_id" IN (SELECT "pgh_obj_id" FROM "{event_table}" WHERE "pgh_id" > %s '
                    f'UNION SELECT e."pgh_obj_id" FROM "{seal_table}" AS s JOIN "{event_table}" AS e '
                    f'ON e."pgh_id" = s."event_id" WHERE s."event_model" = %s AND s."sequence" > %s) '
                )
                join, params = "RIGHT JOIN", [start.last_event(label), label, start.sequence]
            cursor.execute(
                f'WITH last AS (SELECT DISTINCT ON ("pgh_obj_id") * FROM "{event_table}" {scope}'
                f'ORDER BY "pgh_obj_id", "pgh_id" DESC) '
                f'SELECT COALESCE(t."id", last."pgh_obj_id"), '
                f"CASE WHEN last.\"pgh_obj_id\" IS NULL THEN 'has no audit event' "
                f"WHEN t.\"id\" IS NULL THEN 'was deleted without an audit event' "
                f"WHEN last.\"pgh_label\" = 'delete' THEN 'exists although its last audit event is its deletion' "
                f"ELSE 'differs from its last audited state' END, {_batch_sql(model)}, count(*) OVER () "
                f'FROM "{table}" AS t {join} last ON last."pgh_obj_id" = t."id" '
                f'WHERE last."pgh_obj_id" IS NULL '
                f'OR (t."id" IS NULL AND last."pgh_label" <> \'delete\') '
                f'OR (t."id" IS NOT NULL AND last."pgh_label" = \'delete\') '
                f'OR (t."id" IS NOT NULL AND ({current}) IS DISTINCT FROM ({audited})) '
                f"ORDER BY 1 LIMIT {LIST_LIMIT}",
                params,
            )
            broken = cursor.fetchall()
            for pk, what, batch_id, _total in broken:
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
            if broken and broken[0][3] > len(broken):
                report.add(
                    Finding(
                        FindingKind.ROW,
                        f"{model._meta.label}: {broken[0][3] - len(broken)} more broken rows not listed.",
                        model._meta.label,
                    )
                )
            if start.marks is None:
                cursor.execute(f'SELECT count(*) FROM "{table}"')
            else:
                cursor.execute(
                    f'WITH last AS (SELECT DISTINCT "pgh_obj_id" FROM "{event_table}" {scope}) '
                    "SELECT count(*) FROM last",
                    params,
                )
            report.rows += cursor.fetchone()[0]
