"""Sealing: append every audit event not yet in the ledger to the hash chain, then sign a checkpoint.

Writers commit in any order, so an event with a smaller id may become visible after a larger one
was sealed. Sealing therefore never relies on "ids above the last sealed id": it takes every
committed event that has no seal yet (an anti-join), under an advisory lock so that one sealer
runs at a time and the sequence has no gaps.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from batches import pki
from batches.ledger.chain import GENESIS_HASH, SEAL_LOCK_KEY, checkpoint_statement, event_tables, seal_hash
from batches.models.ledger import AuditCheckpoint, AuditSeal

CHUNK = 20_000


@dataclass(frozen=True)
class SealResult:
    sealed: int
    head_sequence: int
    head_hash: str
    checkpoint_id: int | None


def _unsealed(limit: int) -> list[tuple[datetime, str, int, bytes, int]]:
    """Up to ``limit`` committed, unsealed events of every GMP table, oldest first."""
    seal_table = AuditSeal._meta.db_table
    per_table = []
    with connection.cursor() as cursor:
        for label, _model, events in event_tables():
            cursor.execute(
                f'SELECT e."pgh_created_at", e."pgh_id", convert_to(row_to_json(e)::text, \'UTF8\'), '
                f"e.xmin::text::bigint "
                f'FROM "{events._meta.db_table}" AS e '
                f'WHERE NOT EXISTS (SELECT 1 FROM "{seal_table}" AS s '
                f'WHERE s."event_model" = %s AND s."event_id" = e."pgh_id") '
                f'ORDER BY e."pgh_id" LIMIT %s',
                [label, limit],
            )
            per_table.append(
                [(at, label, pgh_id, bytes(payload), xmin) for at, pgh_id, payload, xmin in cursor.fetchall()]
            )
    return list(heapq.merge(*per_table))[:limit]


def _head() -> tuple[int, str]:
    last = AuditSeal.objects.order_by("-sequence").values_list("sequence", "hash").first()
    return (last[0], last[1]) if last else (0, GENESIS_HASH)


def _seal_chunk(limit: int) -> int:
    sequence, previous = _head()
    now = timezone.now()
    rows = []
    for _at, label, pgh_id, payload, xmin in _unsealed(limit):
        sequence += 1
        digest = seal_hash(
            sequence=sequence,
            event_model=label,
            event_id=pgh_id,
            previous_hash=previous,
            payload=payload,
            event_xmin=xmin,
        )
        rows.append((sequence, label, pgh_id, payload, xmin, previous, digest, now))
        previous = digest
    if rows:
        # COPY: an order of magnitude faster than INSERTs for a backlog of many thousand events.
        columns = "sequence, event_model, event_id, payload, event_xmin, previous_hash, hash, sealed_at"
        table = AuditSeal._meta.db_table
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    return len(rows)


def checkpoint_latest() -> AuditCheckpoint | None:
    """The latest signed checkpoint: the ledger head that a document issued now can name."""
    return AuditCheckpoint.objects.order_by("-pk").first()


def checkpoint_write() -> AuditCheckpoint | None:
    """Sign the current chain head, unless the latest checkpoint already covers it."""
    head_sequence, head_hash = _head()
    latest = checkpoint_latest()
    if latest is not None and latest.head_sequence == head_sequence and latest.head_hash == head_hash:
        return None
    now = timezone.now()
    fingerprint = pki.certificate_fingerprint(pki.organisation_certificate())
    statement = checkpoint_statement(
        head_sequence=head_sequence,
        head_hash=head_hash,
        event_count=head_sequence,
        created_at=now,
        certificate_sha256=fingerprint,
    )
    return AuditCheckpoint.objects.create(
        head_sequence=head_sequence,
        head_hash=head_hash,
        event_count=head_sequence,
        created_at=now,
        statement=statement,
        signature=pki.sign_bytes(statement),
        certificate_sha256=fingerprint,
    )


def ledger_seal(*, checkpoint: bool = True, chunk: int = CHUNK) -> SealResult:
    """Seal every committed audit event not yet sealed; sign a checkpoint of the new head."""
    sealed = 0
    while True:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])
                # row_to_json renders timestamps in the session's zone: always UTC, for sealer and verifier.
                cursor.execute("SET LOCAL TIME ZONE 'UTC'")
            count = _seal_chunk(chunk)
            sealed += count
            written = checkpoint_write() if checkpoint and count < chunk else None
            if count < chunk:
                head_sequence, head_hash = _head()
                return SealResult(sealed, head_sequence, head_hash, written.pk if written else None)
