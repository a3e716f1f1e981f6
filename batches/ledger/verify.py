"""Verification: recompute the chain, check the signed checkpoint, compare seals with the event rows,
and reconcile every GMP row with its last audited state.

Everything is read in one REPEATABLE READ snapshot, so writers and sealers running meanwhile do not
produce false alarms. The chain is reported at its first break (nothing after it can be trusted);
every changed or deleted sealed event and every broken row is listed, with its batch.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from batches import pki
from batches.ledger.chain import checkpoint_statement
from batches.ledger.findings import Finding, Report, Start
from batches.ledger.reconcile import reconcile
from batches.ledger.scan import check_chain, check_events
from batches.models.integrity import FindingKind, IntegrityFinding, SchemaChange
from batches.models.ledger import AuditCheckpoint, AuditSeal, AuditVerification, VerificationMode

Progress = Callable[[int], None]


def _check_checkpoint(report: Report, heads: dict[int, str]) -> None:
    latest = AuditCheckpoint.objects.order_by("-pk").first()
    if latest is not None and latest.head_sequence not in heads and latest.head_sequence < report.from_sequence:
        # Inside the part an earlier run verified: compare with the seal there.
        seal = AuditSeal.objects.filter(sequence=latest.head_sequence).values_list("hash", flat=True).first()
        heads[latest.head_sequence] = seal or ""
    if latest is None:
        report.checkpoint = "none yet"
        if report.sealed:  # every sealing run ends with a checkpoint: they were removed
            report.problem(f"no signed checkpoint although {report.sealed} events are sealed.")
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
        report.problem(f"checkpoint #{latest.pk}: signed by a certificate other than the organisation's.")
    elif statement != rebuilt or not pki.verify_bytes(statement, bytes(latest.signature), certificate):
        report.problem(f"checkpoint #{latest.pk}: its signature does not verify; the checkpoint was altered.")
    elif latest.head_sequence > report.sealed:
        report.problem(
            f"checkpoint #{latest.pk} covers {latest.head_sequence} sealed events but the valid chain holds "
            f"{report.sealed}: sequence {report.sealed + 1} onwards was cut or broken."
        )
    elif heads.get(latest.head_sequence) != latest.head_hash:
        report.problem(
            f"checkpoint #{latest.pk}: the chain head at sequence {latest.head_sequence} differs from the signed "
            "head; the ledger was rewritten."
        )


def seal_count() -> int:
    return AuditSeal.objects.count()


def last_intact_run() -> AuditVerification | None:
    return AuditVerification.objects.filter(ok=True).order_by("-pk").first()


def verify_audit_trail(progress: Progress | None = None, *, incremental: bool = False, record: bool = True) -> Report:
    """Run every check in one consistent snapshot; the report lists every break found (the chain: its first).

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
        if outermost and base is None:
            # A full run: the events and the rows are checked on two more connections sharing this
            # snapshot while this one walks the chain (three server processes and the client at once).
            side = SideChecks(start, (check_events, reconcile))
            try:
                heads = check_chain(report, progress, start)
                _check_checkpoint(report, heads)
            finally:
                side.join()  # never leave a check running on the snapshot of a transaction that ended
            side.merge_into(report)
        else:
            heads = check_chain(report, progress, start)
            _check_checkpoint(report, heads)
            check_events(report, start)
            reconcile(report, start)
        _check_schema(report)
    if record:
        report.run_id = _record(report, started_at).pk
    return report


class SideChecks:
    """Checks that run each in a thread of its own, on a connection that imports the caller's snapshot
    (``pg_export_snapshot``), so that every check sees exactly the same data as the chain walk."""

    def __init__(self, start: Start, checks: tuple[Callable[[Report, Start], None], ...]) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = str(cursor.fetchone()[0])
        if not re.fullmatch(r"[0-9A-F-]+", snapshot):
            raise ValueError(f"unexpected snapshot id {snapshot!r}")
        self.reports = [Report() for _ in checks]
        self.errors: list[BaseException] = []
        self.threads = [
            threading.Thread(target=self._run, args=(snapshot, start, check, report), name=f"audit-verify-{n}")
            for n, (check, report) in enumerate(zip(checks, self.reports, strict=True))
        ]
        for thread in self.threads:
            thread.start()

    def _run(self, snapshot: str, start: Start, check: Callable[[Report, Start], None], report: Report) -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
                cursor.execute("SET LOCAL TIME ZONE 'UTC'")
                check(report, start)
        except BaseException as error:  # re-raised in the caller's thread
            self.errors.append(error)
        finally:
            connection.close()

    def join(self) -> None:
        for thread in self.threads:
            thread.join()

    def merge_into(self, report: Report) -> None:
        self.join()
        if self.errors:
            raise self.errors[0]
        for side in self.reports:  # in the order of the checks: events, then rows
            report.findings.extend(side.findings)
            report.unsealed += side.unsealed
            report.rows += side.rows
            report.marks.update(side.marks)


DDL_TRIGGERS = ("cellbatch_ddl_end", "cellbatch_ddl_drop")


def _check_schema(report: Report) -> None:
    """Triggers disabled since the previous run (of any result), and the DDL recording still in force."""
    previous = AuditVerification.objects.order_by("-pk").values_list("marks", flat=True).first() or {}
    seen = int((previous.get("schema") or [0])[0])
    for change in SchemaChange.objects.filter(pk__gt=seen, disables_trigger=True).order_by("pk"):
        report.add(
            Finding(
                FindingKind.SCHEMA,
                f"triggers switched off: {change.command_tag} {change.object_identity} by database role "
                f"{change.db_role} (login {change.session_role}) at {change.at:%Y-%m-%d %H:%M:%S} UTC "
                f"(schema change #{change.pk}): {change.statement[:300]}",
                "batches.SchemaChange",
                change.pk,
            )
        )
    last = SchemaChange.objects.order_by("-pk").values_list("pk", flat=True).first()
    report.marks["schema"] = [max(seen, last or 0), 0]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_event_trigger WHERE evtname = ANY(%s) AND evtenabled = 'A'", [list(DDL_TRIGGERS)]
        )
        report.ddl_recorded = cursor.fetchone()[0] == len(DDL_TRIGGERS)
    if not report.ddl_recorded:
        report.problem(
            "schema changes are not being recorded: the event triggers cellbatch_ddl_end and cellbatch_ddl_drop "
            "are missing or not enabled always (dropped or disabled by a superuser, or never installed).",
            FindingKind.SCHEMA,
        )


def _check_start(report: Report, start: Start) -> None:
    """The seal the last intact run ended on is still there with the same hash."""
    if start.sequence == 0:
        return
    stored = AuditSeal.objects.filter(sequence=start.sequence).values_list("hash", flat=True).first()
    if stored != start.hash:
        report.problem(
            f"ledger sequence {start.sequence}: differs from the head the last intact verification checked; "
            "the ledger was rewritten (run a full verification)."
        )


def _record(report: Report, started_at: datetime) -> AuditVerification:
    run = AuditVerification.objects.create(
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
    IntegrityFinding.objects.bulk_create(
        IntegrityFinding(
            verification=run,
            kind=f.kind,
            batch_id=f.batch_id,
            table=f.table,
            object_id=f.object_id,
            problem=f.text,
        )
        for f in report.findings
    )
    return run
