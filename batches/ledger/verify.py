"""Verification: recompute the chain, check the signed checkpoint, compare seals with the event rows,
and reconcile every GMP row with its last audited state.

Everything is read in one REPEATABLE READ snapshot, so writers and sealers running meanwhile do not
produce false alarms. Each check reports the first break it finds, by sequence or by row id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from batches import pki
from batches.ledger.chain import GENESIS_HASH, checkpoint_statement, event_tables
from batches.models.ledger import AuditCheckpoint, AuditSeal, AuditVerification, VerificationMode

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Start:
    """Where a run starts: the chain head already verified (genesis for a full run), and per event
    table the last event already reconciled and the first one that was awaiting a seal."""

    sequence: int = 0
    hash: str = GENESIS_HASH
    marks: dict[str, list[int]] | None = None

    def last_event(self, label: str) -> int:
        return self.marks.get(label, [0, 0])[0] if self.marks is not None else 0

    def first_unsealed(self, label: str) -> int:
        return self.marks.get(label, [0, 0])[1] if self.marks is not None else 0


@dataclass
class Report:
    sealed: int = 0
    unsealed: int = 0
    rows: int = 0
    checkpoint: str = "none"
    problems: list[str] = field(default_factory=list)
    mode: str = VerificationMode.FULL
    from_sequence: int = 1
    head_hash: str = GENESIS_HASH
    seals_checked: int = 0
    marks: dict[str, list[int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _chain_break(expected: int, previous: str, row: tuple[Any, ...]) -> str:
    """Why ``row`` does not continue the chain (called only once a row fails the fast check)."""
    sequence, label, event_id, _payload, previous_hash, _stored = row
    where = f"ledger sequence {sequence} ({label} event {event_id})"
    if sequence != expected:
        return f"{where}: expected sequence {expected}; seals are missing or reordered."
    if previous_hash != previous:
        return f"{where}: does not link to the previous seal; the chain is broken."
    return f"{where}: its hash does not match its content; the seal was altered."


def _check_chain(report: Report, progress: Progress | None, start: Start) -> dict[int, str]:
    """Walk the seals in order from ``start``; return {sequence: hash} for the sequences checkpoints name."""
    wanted = set(AuditCheckpoint.objects.values_list("head_sequence", flat=True))
    heads: dict[int, str] = {start.sequence: start.hash}
    previous, expected = start.hash, start.sequence + 1
    report.from_sequence, report.sealed, report.head_hash = expected, start.sequence, start.hash
    seal_table = AuditSeal._meta.db_table
    sha256 = hashlib.sha256
    connection.ensure_connection()
    # A server-side cursor in binary format: bytea travels as raw bytes, not hex text (half the volume).
    with connection.connection.cursor(name="audit_chain", binary=True) as cursor:
        cursor.itersize = 10_000
        cursor.execute(
            f'SELECT "sequence", "event_model", "event_id", "payload", "previous_hash", "hash" '
            f'FROM "{seal_table}" WHERE "sequence" >= %s ORDER BY "sequence"',
            [expected],
        )
        while rows := cursor.fetchmany(10_000):
            for row in rows:
                sequence, label, event_id, payload, previous_hash, stored = row
                # The same bytes as chain.seal_hash, inlined: this loop runs once per audit event.
                header = f"{sequence}\n{label}\n{event_id}\n{previous_hash}\n".encode()
                if (
                    sequence != expected
                    or previous_hash != previous
                    or sha256(header + bytes(payload)).hexdigest() != stored
                ):
                    report.problems.append(_chain_break(expected, previous, row))
                    return heads
                previous, expected = stored, expected + 1
                if sequence in wanted:
                    heads[sequence] = stored
            report.seals_checked += len(rows)
            report.sealed, report.head_hash = expected - 1, previous
            if progress:
                progress(len(rows))
    return heads


def _check_checkpoint(report: Report, heads: dict[int, str]) -> None:
    latest = AuditCheckpoint.objects.order_by("-pk").first()
    if latest is not None and latest.head_sequence not in heads and latest.head_sequence < report.from_sequence:
        # Inside the part an earlier run verified: compare with the seal there.
        seal = AuditSeal.objects.filter(sequence=latest.head_sequence).values_list("hash", flat=True).first()
        heads[latest.head_sequence] = seal or ""
    if latest is None:
        report.checkpoint = "none yet"
        if report.sealed:  # every sealing run ends with a checkpoint: they were removed
            report.problems.append(f"no signed checkpoint although {report.sealed} events are sealed.")
        return
    report.checkpoint = f"#{latest.pk} at sequence {latest.head_sequence} ({latest.created_at:%Y-%m-%d %H:%M:%S} UTC)"
    statement = bytes(latest.statement)
    rebuilt = checkpoint_statement(
        head_sequence=latest.head_sequence,
        head_hash=latest.head_hash,
        event_count=latest.event_count,
        created_at=latest.created_at,
        certificate_sha256=latest.certificate_sha256,
    )
    certificate = pki.organisation_certificate()
    if pki.certificate_fingerprint(certificate) != latest.certificate_sha256:
        report.problems.append(f"checkpoint #{latest.pk}: signed by a certificate other than the organisation's.")
    elif statement != rebuilt or not pki.verify_bytes(statement, bytes(latest.signature), certificate):
        report.problems.append(f"checkpoint #{latest.pk}: its signature does not verify; the checkpoint was altered.")
    elif latest.head_sequence > report.sealed:
        report.problems.append(
            f"checkpoint #{latest.pk} covers {latest.head_sequence} sealed events but the valid chain holds "
            f"{report.sealed}: sequence {report.sealed + 1} onwards was cut or broken."
        )
    elif heads.get(latest.head_sequence) != latest.head_hash:
        report.problems.append(
            f"checkpoint #{latest.pk}: the chain head at sequence {latest.head_sequence} differs from the signed "
            "head; the ledger was rewritten."
        )


def _check_events(report: Report, start: Start) -> None:
    """Every sealed event after ``start`` still exists with the bytes that were sealed; count those
    awaiting a seal, and note per table where the next incremental run starts."""
    seal_table = AuditSeal._meta.db_table
    first: tuple[int, str] | None = None
    with connection.cursor() as cursor:
        for label, _model, events in event_tables():
            table = events._meta.db_table
            # Equal bytes is the fast path. Otherwise every sealed column must still hold exactly its
            # sealed value; a column added by a later migration is not part of the old seal.
            cursor.execute(
                f'SELECT s."sequence", s."event_id", e."pgh_id" IS NULL FROM "{seal_table}" AS s '
                f'LEFT JOIN "{table}" AS e ON e."pgh_id" = s."event_id" '
                f'WHERE s."event_model" = %s AND s."sequence" > %s AND (e."pgh_id" IS NULL OR ('
                f"convert_to(row_to_json(e)::text, 'UTF8') <> s.\"payload\" AND EXISTS ("
                f"SELECT 1 FROM jsonb_each(convert_from(s.\"payload\", 'UTF8')::jsonb) AS sealed "
                f"WHERE to_jsonb(e) -> sealed.key IS DISTINCT FROM sealed.value))) "
                f'ORDER BY s."sequence" LIMIT 1',
                [label, start.sequence],
            )
            row = cursor.fetchone()
            if row and (first is None or row[0] < first[0]):
                what = "was deleted" if row[2] else "was changed after it was sealed"
                first = (row[0], f"{label} event {row[1]} (ledger sequence {row[0]}) {what}.")
            cursor.execute(
                f'SELECT count(*), min(e."pgh_id"), (SELECT max("pgh_id") FROM "{table}") FROM "{table}" AS e '
                f'WHERE e."pgh_id" >= %s AND NOT EXISTS (SELECT 1 FROM "{seal_table}" AS s '
                f'WHERE s."event_model" = %s AND s."event_id" = e."pgh_id")',
                [start.first_unsealed(label), label],
            )
            unsealed, first_unsealed, last_event = cursor.fetchone()
            report.unsealed += unsealed
            last_event = last_event or 0
            report.marks[label] = [last_event, first_unsealed or last_event + 1]
    if first:
        report.problems.append(first[1])


def _tracked_columns(model: type[models.Model], events: type[models.Model]) -> list[str]:
    names = {f.column for f in model._meta.concrete_fields}
    return [f.column for f in events._meta.concrete_fields if f.column and f.column in names]


def _row_difference(cursor: object, table: str, event_table: str, columns: list[str], pk: int) -> str:
    cursor.execute(f'SELECT to_jsonb(t) FROM "{table}" AS t WHERE t."id" = %s', [pk])  # type: ignore[attr-defined]
    current = cursor.fetchone()  # type: ignore[attr-defined]
    cursor.execute(  # type: ignore[attr-defined]
        f'SELECT to_jsonb(e) FROM "{event_table}" AS e WHERE e."pgh_obj_id" = %s ORDER BY e."pgh_id" DESC LIMIT 1',
        [pk],
    )
    audited = cursor.fetchone()  # type: ignore[attr-defined]
    if not current or not audited:
        return ""
    now, then = _as_dict(current[0]), _as_dict(audited[0])
    changed = [c for c in columns if now.get(c) != then.get(c)]
    return f" (changed: {', '.join(changed)})" if changed else ""


def _as_dict(value: object) -> dict[str, object]:
    return json.loads(value) if isinstance(value, str) else dict(value)  # type: ignore[call-overload]


def _reconcile(report: Report, start: Start) -> None:
    """Every GMP row equals its last audited state; no row exists without history, none vanished.

    After an intact run only the rows with new events are compared: those with an event newer than
    the run saw, or sealed after its head (an event committed late, with a lower id). A row changed
    with every trigger off leaves no event: only a full run finds it.
    """
    problems: list[str] = []
    seal_table = AuditSeal._meta.db_table
    with connection.cursor() as cursor:
        for label, model, events in event_tables():
            table, event_table = model._meta.db_table, events._meta.db_table
            columns = _tracked_columns(model, events)
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
                f"ELSE 'differs from its last audited state' END "
                f'FROM "{table}" AS t {join} last ON last."pgh_obj_id" = t."id" '
                f'WHERE last."pgh_obj_id" IS NULL '
                f'OR (t."id" IS NULL AND last."pgh_label" <> \'delete\') '
                f'OR (t."id" IS NOT NULL AND last."pgh_label" = \'delete\') '
                f'OR (t."id" IS NOT NULL AND ({current}) IS DISTINCT FROM ({audited})) '
                f"ORDER BY 1 LIMIT 1",
                params,
            )
            row = cursor.fetchone()
            if row:
                detail = _row_difference(cursor, table, event_table, columns, row[0]) if "differs" in row[1] else ""
                problems.append(f"{model._meta.label} row {row[0]} {row[1]}{detail}.")
            if start.marks is None:
                cursor.execute(f'SELECT count(*) FROM "{table}"')
            else:
                cursor.execute(
                    f'WITH last AS (SELECT DISTINCT "pgh_obj_id" FROM "{event_table}" {scope}) '
                    f"SELECT count(*) FROM last",
                    params,
                )
            report.rows += cursor.fetchone()[0]
    report.problems.extend(problems)


def seal_count() -> int:
    return AuditSeal.objects.count()


def last_intact_run() -> AuditVerification | None:
    return AuditVerification.objects.filter(ok=True).order_by("-pk").first()


def verify_audit_trail(progress: Progress | None = None, *, incremental: bool = False, record: bool = True) -> Report:
    """Run every check in one consistent snapshot; the report lists the first break of each kind.

    ``incremental``: start from the last intact run (a full run when there is none): the chain from
    its head on, the events sealed since, the rows with new events. ``record`` stores the run
    (AuditVerification), which is where the next incremental run starts.
    """
    started_at = timezone.now()
    base = last_intact_run() if incremental else None
    start = Start(base.head_sequence, base.head_hash, base.marks) if base else Start()
    report = Report(mode=VerificationMode.INCREMENTAL if base else VerificationMode.FULL)
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        with connection.cursor() as cursor:
            if outermost:  # inside a caller's transaction (tests) its snapshot is used as it is
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SET LOCAL TIME ZONE 'UTC'")
        if base is not None:
            _check_start(report, start)
        heads = _check_chain(report, progress, start)
        _check_checkpoint(report, heads)
        _check_events(report, start)
        _reconcile(report, start)
    if record:
        _record(report, started_at)
    return report


def _check_start(report: Report, start: Start) -> None:
    """The seal the last intact run ended on is still there with the same hash."""
    if start.sequence == 0:
        return
    stored = AuditSeal.objects.filter(sequence=start.sequence).values_list("hash", flat=True).first()
    if stored != start.hash:
        report.problems.append(
            f"ledger sequence {start.sequence}: differs from the head the last intact verification checked; "
            "the ledger was rewritten (run a full verification)."
        )


def _record(report: Report, started_at: datetime) -> None:
    AuditVerification.objects.create(
        mode=report.mode,
        started_at=started_at,
        finished_at=timezone.now(),
        from_sequence=report.from_sequence,
        head_sequence=report.sealed,
        head_hash=report.head_hash,
        seals_checked=report.seals_checked,
        rows_checked=report.rows,
        marks=report.marks,
        ok=report.ok,
        problems=report.problems,
    )
