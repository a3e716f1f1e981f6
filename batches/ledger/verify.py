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
from typing import Any

from django.db import connection, models, transaction

from batches import pki
from batches.ledger.chain import GENESIS_HASH, checkpoint_statement, event_tables
from batches.models.ledger import AuditCheckpoint, AuditSeal

Progress = Callable[[int], None]


@dataclass
class Report:
    sealed: int = 0
    unsealed: int = 0
    rows: int = 0
    checkpoint: str = "none"
    problems: list[str] = field(default_factory=list)

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


def _check_chain(report: Report, progress: Progress | None) -> dict[int, str]:
    """Walk the seals in order; return {sequence: hash} for the sequences checkpoints name."""
    wanted = set(AuditCheckpoint.objects.values_list("head_sequence", flat=True))
    heads: dict[int, str] = {0: GENESIS_HASH}
    previous, expected = GENESIS_HASH, 1
    seal_table = AuditSeal._meta.db_table
    sha256 = hashlib.sha256
    connection.ensure_connection()
    # A server-side cursor in binary format: bytea travels as raw bytes, not hex text (half the volume).
    with connection.connection.cursor(name="audit_chain", binary=True) as cursor:
        cursor.itersize = 10_000
        cursor.execute(
            f'SELECT "sequence", "event_model", "event_id", "payload", "previous_hash", "hash" '
            f'FROM "{seal_table}" ORDER BY "sequence"'
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
            report.sealed = expected - 1
            if progress:
                progress(len(rows))
    return heads


def _check_checkpoint(report: Report, heads: dict[int, str]) -> None:
    latest = AuditCheckpoint.objects.order_by("-pk").first()
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


def _check_events(report: Report) -> None:
    """Every sealed event still exists with the bytes that were sealed; count those awaiting a seal."""
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
                f'WHERE s."event_model" = %s AND (e."pgh_id" IS NULL OR ('
                f"convert_to(row_to_json(e)::text, 'UTF8') <> s.\"payload\" AND EXISTS ("
                f"SELECT 1 FROM jsonb_each(convert_from(s.\"payload\", 'UTF8')::jsonb) AS sealed "
                f"WHERE to_jsonb(e) -> sealed.key IS DISTINCT FROM sealed.value))) "
                f'ORDER BY s."sequence" LIMIT 1',
                [label],
            )
            row = cursor.fetchone()
            if row and (first is None or row[0] < first[0]):
                what = "was deleted" if row[2] else "was changed after it was sealed"
                first = (row[0], f"{label} event {row[1]} (ledger sequence {row[0]}) {what}.")
            cursor.execute(
                f'SELECT count(*) FROM "{table}" AS e WHERE NOT EXISTS (SELECT 1 FROM "{seal_table}" AS s '
                f'WHERE s."event_model" = %s AND s."event_id" = e."pgh_id")',
                [label],
            )
            report.unsealed += cursor.fetchone()[0]
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


def _reconcile(report: Report) -> None:
    """Every GMP row equals its last audited state; no row exists without history, none vanished."""
    problems: list[str] = []
    with connection.cursor() as cursor:
        for _label, model, events in event_tables():
            table, event_table = model._meta.db_table, events._meta.db_table
            columns = _tracked_columns(model, events)
            current = ", ".join(f't."{c}"' for c in columns)
            audited = ", ".join(f'last."{c}"' for c in columns)
            cursor.execute(
                f'WITH last AS (SELECT DISTINCT ON ("pgh_obj_id") * FROM "{event_table}" '
                f'ORDER BY "pgh_obj_id", "pgh_id" DESC) '
                f'SELECT COALESCE(t."id", last."pgh_obj_id"), '
                f"CASE WHEN last.\"pgh_obj_id\" IS NULL THEN 'has no audit event' "
                f"WHEN t.\"id\" IS NULL THEN 'was deleted without an audit event' "
                f"WHEN last.\"pgh_label\" = 'delete' THEN 'exists although its last audit event is its deletion' "
                f"ELSE 'differs from its last audited state' END "
                f'FROM "{table}" AS t FULL OUTER JOIN last ON last."pgh_obj_id" = t."id" '
                f'WHERE last."pgh_obj_id" IS NULL '
                f'OR (t."id" IS NULL AND last."pgh_label" <> \'delete\') '
                f'OR (t."id" IS NOT NULL AND last."pgh_label" = \'delete\') '
                f'OR (t."id" IS NOT NULL AND ({current}) IS DISTINCT FROM ({audited})) '
                f"ORDER BY 1 LIMIT 1"
            )
            row = cursor.fetchone()
            if row:
                detail = _row_difference(cursor, table, event_table, columns, row[0]) if "differs" in row[1] else ""
                problems.append(f"{model._meta.label} row {row[0]} {row[1]}{detail}.")
            cursor.execute(f'SELECT count(*) FROM "{table}"')
            report.rows += cursor.fetchone()[0]
    report.problems.extend(problems)


def seal_count() -> int:
    return AuditSeal.objects.count()


def verify_audit_trail(progress: Progress | None = None) -> Report:
    """Run every check in one consistent snapshot; the report lists the first break of each kind."""
    report = Report()
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        with connection.cursor() as cursor:
            if outermost:  # inside a caller's transaction (tests) its snapshot is used as it is
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SET LOCAL TIME ZONE 'UTC'")
        heads = _check_chain(report, progress)
        _check_checkpoint(report, heads)
        _check_events(report)
        _reconcile(report)
    return report
