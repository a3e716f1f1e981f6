"""Sealing: append every audit event not yet in the ledger to the hash chain, then sign a checkpoint.

Writers commit in any order, so an event with a smaller id may become visible after a larger one
was sealed. Sealing therefore never relies on "ids above the last sealed id": it takes every
committed event that has no seal yet (an anti-join), under an advisory lock so that one sealer
runs at a time and the sequence has no gaps.

The anti-join reads each event table only above a bound (SealProgress) below which every committed
event is known to be sealed, so a run costs what is new, not the size of the trail. A run notes the
last id each table has handed out, then takes its own transaction id, then its snapshot. An event
not yet visible then, with an id up to that last id, belongs to a transaction that had written before
the run's own id was given: one listed open in the snapshot (of this database), or one between the
snapshot's xmax and the run's own id (running, but a snapshot does not list it). Once a later run's
snapshot shows them all ended, that run has read their events above the old bound, and the bound
moves up to the noted ids.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from batches import pki
from batches.ledger.chain import GENESIS_HASH, SEAL_LOCK_KEY, checkpoint_statement, event_tables, seal_hash
from batches.models.ledger import AuditCheckpoint, AuditSeal, SealProgress

CHUNK = 20_000
# Runs waiting for transactions that were open when they ran; an older one dropped only slows the bound.
PENDING_KEPT = 20


@dataclass(frozen=True)
class SealResult:
    sealed: int
    head_sequence: int
    head_hash: str
    checkpoint_id: int | None


def _unsealed(
    limit: int, above: dict[str, int], last_ids: dict[str, int]
) -> list[tuple[datetime, str, int, bytes, int]]:
    """Up to ``limit`` committed, unsealed events of every GMP table with ids above ``above``, oldest first.

    Only the tables that had handed out an id above ``above`` when the run noted ``last_ids`` are read:
    an event with a later id is left to the next run, as the bound never passes what a run noted.
    """
    seal_table = AuditSeal._meta.db_table
    parts: list[str] = []
    params: list[str | int] = []
    for label, _model, events in event_tables():
        if last_ids.get(label, 0) <= above.get(label, 0):
            continue
        # One statement for every table: a run that finds little costs one round trip, not one per table.
        parts.append(
            f'(SELECT %s, e."pgh_created_at", e."pgh_id", convert_to(row_to_json(e)::text, \'UTF8\'), '
            f"e.xmin::text::bigint "
            f'FROM "{events._meta.db_table}" AS e '
            f'WHERE e."pgh_id" > %s AND NOT EXISTS (SELECT 1 FROM "{seal_table}" AS s '
            f'WHERE s."event_model" = %s AND s."event_id" = e."pgh_id") '
            f'ORDER BY e."pgh_id" LIMIT %s)'
        )
        params += [label, above.get(label, 0), label, limit]
    if not parts:
        return []
    per_table: dict[str, list[tuple[datetime, str, int, bytes, int]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        for label, at, pgh_id, payload, xmin in cursor.fetchall():
            per_table.setdefault(label, []).append((at, label, pgh_id, bytes(payload), xmin))
    # Each table's events stay in id order, so what is kept of a table is a prefix of what was read.
    return list(heapq.merge(*per_table.values()))[:limit]


# The transactions open in the run's snapshot that belong to this database: the other databases of
# the server write no events here. A session whose details this role may not read counts as ours.
# (pg_stat_activity shows 32-bit transaction ids: the snapshot's 64-bit ones are matched modulo 2^32.)
HORIZON_SQL = """
WITH here AS (
    SELECT backend_xid, query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
)
SELECT pg_snapshot_xmin(s)::text, pg_snapshot_xmax(s)::text,
       ARRAY(SELECT x::text FROM pg_snapshot_xip(s) AS x),
       ARRAY(SELECT x::text FROM pg_snapshot_xip(s) AS x
             WHERE EXISTS (SELECT 1 FROM here WHERE query = '<insufficient privilege>')
                OR mod(x::text::numeric, 4294967296) IN (
                    SELECT backend_xid::text::numeric FROM here WHERE backend_xid IS NOT NULL))
FROM pg_current_snapshot() AS s
"""


# Beyond this many transaction ids between a snapshot's xmax and the run's own, a run waits for all of
# them to have ended (its own id below every open one) instead of checking them one by one.
RANGE_CHECKED = 10_000


@dataclass(frozen=True)
class Horizon:
    """What a run saw: the last id each event table had handed out, then its snapshot's transactions."""

    last_ids: dict[str, int]
    oldest_open: int  # every transaction before it had ended
    next_xid: int  # the snapshot's xmax: transactions from it on are not listed, even when running
    open_anywhere: frozenset[int]
    open_here: list[int]  # the listed ones of this database
    own_xid: int  # the run's own transaction, given its id after the last ids were read

    def entry(self) -> list[Any]:
        """What a later run needs to tell whether every transaction that may hold an id up to
        ``last_ids`` without its event being visible here has ended: the listed open ones, and every
        id from the snapshot's xmax up to the run's own (running, but not listed in a snapshot)."""
        return [self.open_here, self.last_ids, [self.next_xid, self.own_xid]]

    def ended(self, listed: list[int], unlisted: list[int]) -> bool:
        """Whether the transactions of an earlier run's entry had all ended by this snapshot."""
        low, high = unlisted
        if high - low > RANGE_CHECKED:
            return high <= self.oldest_open
        return all(self._ended(x) for x in [*listed, *range(low, high)])

    def _ended(self, xid: int) -> bool:
        return xid < self.oldest_open or (xid < self.next_xid and xid not in self.open_anywhere)


def _horizon() -> Horizon:
    tables = event_tables()
    with connection.cursor() as cursor:
        # The ids first: an id handed out after this comes from a transaction that had not yet written.
        lasts = ", ".join(
            f"COALESCE(pg_sequence_last_value(pg_get_serial_sequence('\"{events._meta.db_table}\"', 'pgh_id')), 0)"
            for _label, _model, events in tables
        )
        cursor.execute(f"SELECT {lasts}")
        last_ids = dict(zip((label for label, _m, _e in tables), cursor.fetchone(), strict=True))
        # Then the run's own transaction id: larger than that of any transaction that wrote before.
        cursor.execute("SELECT pg_current_xact_id()::text")
        own = int(cursor.fetchone()[0])
        cursor.execute(HORIZON_SQL)
        oldest, following, anywhere, here = cursor.fetchone()
    return Horizon(last_ids, int(oldest), int(following), frozenset(map(int, anywhere)), sorted(map(int, here)), own)


def _progress() -> SealProgress:
    progress = SealProgress.objects.order_by("pk").first()
    return progress if progress is not None else SealProgress.objects.create()


def _advance(progress: SealProgress, horizon: Horizon) -> None:
    """Move the bound up to the ids of every run whose open transactions have all ended by ``horizon``
    (this run's own when none was): this run has read their events above the old bound."""
    runs = [*progress.pending, horizon.entry()]
    bound = dict(progress.bound)
    waiting = []
    for listed, last_ids, unlisted in runs:
        if horizon.ended(listed, unlisted):
            for label, last in last_ids.items():
                bound[label] = max(bound.get(label, 0), last)
        else:
            waiting.append([listed, last_ids, unlisted])
    progress.bound, progress.pending = bound, waiting[-PENDING_KEPT:]
    progress.save(update_fields=["bound", "pending"])


def _head() -> tuple[int, str]:
    last = AuditSeal.objects.order_by("-sequence").values_list("sequence", "hash").first()
    return (last[0], last[1]) if last else (0, GENESIS_HASH)


def _seal_chunk(limit: int, above: dict[str, int], last_ids: dict[str, int]) -> int:
    """Seal up to ``limit`` events above ``above``; raise ``above`` to the last id sealed of each table."""
    sequence, previous = _head()
    now = timezone.now()
    rows = []
    for _at, label, pgh_id, payload, xmin in _unsealed(limit, above, last_ids):
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
        above[label] = max(above.get(label, 0), pgh_id)
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
    horizon: Horizon | None = None
    above: dict[str, int] = {}
    while True:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])
                # row_to_json renders timestamps in the session's zone: always UTC, for sealer and verifier.
                cursor.execute("SET LOCAL TIME ZONE 'UTC'")
            if horizon is None:
                horizon = _horizon()
                above = dict(_progress().bound)
            # Within the run each chunk reads above the last one: an event committed meanwhile below
            # it is an open transaction's, read by the next run (the bound never passed it).
            count = _seal_chunk(chunk, above, horizon.last_ids)
            sealed += count
            if count < chunk:
                _advance(_progress(), horizon)
                written = checkpoint_write() if checkpoint else None
                head_sequence, head_hash = _head()
                return SealResult(sealed, head_sequence, head_hash, written.pk if written else None)
