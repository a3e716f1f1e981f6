"""The two streaming checks of a verification run: the chain, and the sealed events against their rows.

**Chain.** One ordered pass over the seals. PostgreSQL recomputes each seal's SHA-256 from its
header and stored payload (``sha256`` in C, next to the data: the payload never crosses the
connection); the client checks only that the sequence runs 1, 2, 3… and that each seal names its
predecessor's hash.

**Events.** One pass per event table joining the seals with the event rows (a hash or merge join).
A seal records the ``xmin`` of the event's row version (bound into its hash): PostgreSQL gives every
rewritten row version a new ``xmin``, so an event whose ``xmin`` still equals the sealed one holds
the sealed bytes without being serialised again. Only an event with a different ``xmin`` (a
rewrite, a restore from a logical dump, or a seal written before ``xmin`` was recorded) is rendered
with ``row_to_json`` and compared byte for byte, then column by column.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection

from batches.ledger.chain import event_tables
from batches.ledger.findings import LIST_LIMIT, Finding, Report, Start
from batches.ledger.trail_sql import batch_lookup
from batches.models.integrity import FindingKind
from batches.models.ledger import AuditCheckpoint, AuditSeal

Progress = Callable[[int], None]
FETCH = 20_000

# The seal's hash recomputed by PostgreSQL: the same bytes as batches.ledger.chain.seal_hash.
SEAL_OK_SQL = (
    "encode(sha256(convert_to(s.\"sequence\" || E'\\n' || s.\"event_model\" || E'\\n' || s.\"event_id\" || E'\\n' "
    "|| s.\"previous_hash\" || E'\\n' || COALESCE('xmin ' || s.\"event_xmin\" || E'\\n', ''), 'UTF8') "
    '|| s."payload"), \'hex\') = s."hash"'
)
# The event still holds what was sealed: same row version (fast), else the same bytes, else every
# sealed column unchanged (a column added by a later migration is not part of an older seal).
EVENT_INTACT_SQL = (
    'CASE WHEN s."event_xmin" = e.xmin::text::bigint THEN true '
    "WHEN convert_to(row_to_json(e)::text, 'UTF8') = s.\"payload\" THEN true "
    "ELSE NOT EXISTS (SELECT 1 FROM jsonb_each(convert_from(s.\"payload\", 'UTF8')::jsonb) AS sealed "
    "WHERE to_jsonb(e) -> sealed.key IS DISTINCT FROM sealed.value) END"
)


def chain_break(expected: int, previous: str, row: tuple[Any, ...]) -> str:
    """Why ``row`` does not continue the chain (called only once a row fails the fast check)."""
    sequence, label, event_id, previous_hash, _stored, _ok = row
    where = f"ledger sequence {sequence} ({label} event {event_id})"
    if sequence != expected:
        return f"{where}: expected sequence {expected}; seals are missing or reordered."
    if previous_hash != previous:
        return f"{where}: does not link to the previous seal; the chain is broken."
    return f"{where}: its hash does not match its content; the seal was altered."


def check_chain(report: Report, progress: Progress | None, start: Start) -> dict[int, str]:
    """Walk the seals in order from ``start``; return {sequence: hash} for the sequences checkpoints name."""
    wanted = set(AuditCheckpoint.objects.values_list("head_sequence", flat=True))
    heads: dict[int, str] = {start.sequence: start.hash}
    previous, expected = start.hash, start.sequence + 1
    report.from_sequence, report.sealed, report.head_hash = expected, start.sequence, start.hash
    seal_table = AuditSeal._meta.db_table
    connection.ensure_connection()
    with connection.connection.cursor(name="audit_chain") as cursor:
        cursor.itersize = FETCH
        cursor.execute(
            f'SELECT s."sequence", s."event_model", s."event_id", s."previous_hash", s."hash", {SEAL_OK_SQL} '
            f'FROM "{seal_table}" AS s WHERE s."sequence" >= %s ORDER BY s."sequence"',
            [expected],
        )
        labels: dict[str, int] = {}
        if start.marks is not None:  # an incremental run compares only the event tables with new seals
            report.new_seal_labels = labels
        while rows := cursor.fetchmany(FETCH):
            for row in rows:
                if row[0] != expected or row[3] != previous or not row[5]:
                    report.problem(chain_break(expected, previous, row))
                    report.new_seal_labels = None  # not all read: the event check asks the seals itself
                    return heads
                previous, expected = row[4], expected + 1
            if start.marks is not None:
                for row in rows:
                    if row[2] < labels.get(row[1], row[2] + 1):
                        labels[row[1]] = row[2]
            first, last = rows[0][0], rows[-1][0]
            for sequence in [w for w in wanted if first <= w <= last]:
                heads[sequence] = rows[sequence - first][4]
            report.seals_checked += len(rows)
            report.sealed, report.head_hash = expected - 1, previous
            if progress:
                progress(len(rows))
    return heads


def _event_batch_sql(model: Any) -> str:
    """The batch of an event, from the event row or, when it was deleted, from its sealed payload."""
    column = batch_lookup(model)
    if column not in ("pgh_obj_id", "batch_id"):
        return "NULL::bigint"
    return f"COALESCE(e.\"{column}\", (convert_from(s.\"payload\", 'UTF8')::jsonb ->> '{column}')::bigint)"


def _list_broken(cursor: Any, label: str, model: Any, table: str, after: int, first: int) -> list[tuple[int, Finding]]:
    """The sealed events after sequence ``after`` that no longer hold what was sealed. ``first`` (the
    smallest event id sealed after it) bounds the read to the new part of the seal index."""
    seal_table = AuditSeal._meta.db_table
    cursor.execute(
        f'SELECT s."sequence", s."event_id", e."pgh_id" IS NULL, {_event_batch_sql(model)}, count(*) OVER () '
        f'FROM "{seal_table}" AS s LEFT JOIN "{table}" AS e ON e."pgh_id" = s."event_id" '
        f'WHERE s."event_model" = %s AND s."event_id" >= %s AND s."sequence" > %s '
        f'AND (e."pgh_id" IS NULL OR NOT ({EVENT_INTACT_SQL})) ORDER BY s."sequence" LIMIT {LIST_LIMIT}',
        [label, first, after],
    )
    rows = cursor.fetchall()
    broken = []
    for sequence, event_id, deleted, batch_id, _total in rows:
        what = "was deleted" if deleted else "was changed after it was sealed"
        text = f"{label} event {event_id} (ledger sequence {sequence}) {what}."
        broken.append((sequence, Finding(FindingKind.EVENT, text, label, event_id, batch_id)))
    if rows and rows[0][4] > len(rows):
        more = f"{label}: {rows[0][4] - len(rows)} more changed or deleted events not listed."
        broken.append((rows[-1][0], Finding(FindingKind.EVENT, more, label)))
    return broken


def _unsealed_since(cursor: Any, table: str, label: str, first: int) -> tuple[int, int | None, int | None]:
    """(events from id ``first`` on without a seal, the first of them, the last event id).

    Two index counts settle the usual case (every event from ``first`` on is sealed); only when they
    differ are the events matched with their seals one by one.
    """
    seal_table = AuditSeal._meta.db_table
    cursor.execute(
        f'SELECT (SELECT count(*) FROM "{table}" WHERE "pgh_id" >= %s) - (SELECT count(*) FROM "{seal_table}" '
        f'WHERE "event_model" = %s AND "event_id" >= %s), (SELECT max("pgh_id") FROM "{table}")',
        [first, label, first],
    )
    difference, last_event = cursor.fetchone()
    if not difference:
        return 0, None, last_event
    cursor.execute(
        f'SELECT count(*), min(e."pgh_id") FROM "{table}" AS e WHERE e."pgh_id" >= %s AND NOT EXISTS '
        f'(SELECT 1 FROM "{seal_table}" AS s WHERE s."event_model" = %s AND s."event_id" = e."pgh_id")',
        [first, label],
    )
    unsealed, first_unsealed = cursor.fetchone()
    return unsealed, first_unsealed, last_event


def check_events(report: Report, start: Start) -> None:
    """Every sealed event after ``start`` still holds what was sealed (each one that does not is
    listed); count the events awaiting a seal, and note per table where the next incremental run starts.

    A full run reads each event table once: one FULL JOIN with its seals gives the broken events,
    those awaiting a seal and the last id. An incremental run reads only the new seals and events.
    """
    seal_table = AuditSeal._meta.db_table
    broken: list[tuple[int, Finding]] = []
    with connection.cursor() as cursor:
        if start.marks is not None and report.new_seal_labels is None:
            cursor.execute(
                f'SELECT "event_model", min("event_id") FROM "{seal_table}" WHERE "sequence" > %s GROUP BY 1',
                [start.sequence],
            )
            report.new_seal_labels = dict(cursor.fetchall())
        for label, model, events in event_tables():
            table = events._meta.db_table
            if start.marks is None:
                # Ids and row versions only: a sealed event whose xmin is unchanged holds the sealed bytes,
                # and _list_broken compares the others in full. Carrying the payloads and the event rows
                # through the join made it spill to disk (31 s instead of 8 for ten million events).
                cursor.execute(
                    f'SELECT count(*) FILTER (WHERE s."event_id" IS NOT NULL AND (e."pgh_id" IS NULL '
                    f'OR s."event_xmin" IS DISTINCT FROM e.xmin::text::bigint)), '
                    f'count(*) FILTER (WHERE s."event_id" IS NULL), '
                    f'min(e."pgh_id") FILTER (WHERE s."event_id" IS NULL), max(e."pgh_id") '
                    f'FROM (SELECT "event_id", "event_xmin" FROM "{seal_table}" WHERE "event_model" = %s) AS s '
                    f'FULL JOIN "{table}" AS e ON e."pgh_id" = s."event_id"',
                    [label],
                )
                bad, unsealed, first_unsealed, last_event = cursor.fetchone()  # bad: to compare in full
            else:
                # The listing query below is the check: it reads only the new seals of this table.
                bad = int(label in (report.new_seal_labels or ()))
                unsealed, first_unsealed, last_event = _unsealed_since(
                    cursor, table, label, start.first_unsealed(label)
                )
            if bad:
                first = (report.new_seal_labels or {}).get(label, 0) if start.marks is not None else 0
                broken += _list_broken(cursor, label, model, table, start.sequence, first)
            report.unsealed += unsealed
            last_event = last_event or 0
            report.marks[label] = [last_event, first_unsealed or last_event + 1]
    for _sequence, finding in sorted(broken, key=lambda item: item[0]):
        report.add(finding)
