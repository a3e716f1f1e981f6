"""Patient import from a legacy register: dry run, staging with reconciliation, QA sign-off.

1. ``patient_import_preview`` reads the CSV and classifies every line (new, already registered and
   identical, conflicting with the registered patient, rejected with its reason); nothing is written.
2. ``patient_import_stage`` writes the same result into the staging area (PatientImport and one
   PatientImportRow per line), audited with the importer and the reason. No patient exists yet.
3. ``patient_import_sign_off``: QA, with a signature (Approved) and someone other than the importer,
   signs the reconciliation off; only then are the new patients created, each audited with its
   file, line and the sign-off. A file whose lines do not add up, or with conflicts, is refused.

The CSV is read with the standard library's ``csv`` module: the format is one fixed header of four
columns, and every cell goes through the same model validation as an enrolment.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from batches.audit import audit_context, require_reason
from batches.exceptions import StateConflict
from batches.models import ImportStatus, Patient, PatientImport, PatientImportRow, RowOutcome, SignatureMeaning
from batches.roles import Role, require_role
from batches.services.common import confirm_password
from batches.services.signatures import signature_sign

COLUMNS = ("subject_code", "consent_date", "body_weight_kg", "eligibility_confirmed")
MAX_BYTES = 2_000_000
MAX_LINES = 10_000
YES, NO = {"yes", "y", "true", "1"}, {"no", "n", "false", "0"}


@dataclass(frozen=True)
class Line:
    line: int
    raw: dict[str, str]
    subject_code: str
    outcome: RowOutcome
    message: str = ""
    values: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Preview:
    """The dry run: every data line of the file classified, and the counts that must add up."""

    sha256: str
    lines: list[Line]

    def count(self, outcome: RowOutcome) -> int:
        return sum(1 for line in self.lines if line.outcome == outcome)

    @property
    def reconciliation(self) -> dict[str, int]:
        return {
            "lines": len(self.lines),
            **{str(outcome): self.count(outcome) for outcome in RowOutcome},
        }


def _cells(row: dict[str, str]) -> dict[str, object]:
    """The row's values as the model takes them; ValidationError names the column."""
    errors: dict[str, str] = {}
    values: dict[str, object] = {"subject_code": row["subject_code"].strip().upper()}
    try:
        values["consent_date"] = date.fromisoformat(row["consent_date"].strip())
    except ValueError:
        errors["consent_date"] = f"'{row['consent_date'][:40]}' is not a date (YYYY-MM-DD)"
    try:
        values["body_weight_kg"] = Decimal(row["body_weight_kg"].strip().replace(",", "."))
    except InvalidOperation:
        errors["body_weight_kg"] = f"'{row['body_weight_kg'][:40]}' is not a number"
    flag = row["eligibility_confirmed"].strip().lower()
    if flag not in YES | NO:
        errors["eligibility_confirmed"] = f"'{row['eligibility_confirmed'][:40]}' is not yes or no"
    values["eligibility_confirmed"] = flag in YES
    if errors:
        raise ValidationError(errors)
    return values


def _message(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(
            f"{name}: {' '.join(m.rstrip('.') for m in messages)}" for name, messages in error.message_dict.items()
        )
    return "; ".join(error.messages)


def _classify(number: int, row: dict[str, str], seen: dict[str, int], today: date) -> Line:
    code = (row.get("subject_code") or "").strip().upper()
    raw = {k: (v or "")[:200] for k, v in row.items() if k in COLUMNS}
    try:
        values = _cells(row)
        if values["consent_date"] > today:  # type: ignore[operator]
            raise ValidationError({"consent_date": gettext("the consent date cannot be in the future")})
        candidate = Patient(enrolled_by_id=0, **values)
        candidate.full_clean(exclude=["enrolled_by", "subject_code"])
        Patient._meta.get_field("subject_code").run_validators(code)
    except ValidationError as error:
        return Line(number, raw, code, RowOutcome.REJECTED, _message(error))
    if code in seen:
        return Line(number, raw, code, RowOutcome.REJECTED, f"subject_code: {code} repeats line {seen[code]}")
    seen[code] = number
    existing = Patient.objects.filter(subject_code=code).first()
    if existing is None:
        return Line(number, raw, code, RowOutcome.NEW, values=values)
    different = [name for name, value in values.items() if getattr(existing, name) != value]
    if different:
        return Line(
            number, raw, code, RowOutcome.CONFLICT, f"registered patient {code} differs in: {', '.join(different)}"
        )
    return Line(number, raw, code, RowOutcome.MATCHED, f"already registered as patient #{existing.pk}")


def patient_import_preview(*, data: bytes) -> Preview:
    """The dry run: read and classify every line; nothing is written. A file that cannot be read at
    all (size, encoding, header) is refused with a ValidationError on ``file``."""
    if len(data) > MAX_BYTES:
        raise ValidationError(
            {
                "file": gettext("The file is %(len)s bytes; at most %(max_bytes)s are accepted.")
                % {"len": f"{len(data):,}", "max_bytes": f"{MAX_BYTES:,}"}
            }
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValidationError(
            {"file": gettext("The file is not UTF-8 text (byte %(start)s).") % {"start": error.start}}
        ) from error
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise ValidationError(
            {"file": f"The header lacks the column(s) {', '.join(missing)}; expected: {', '.join(COLUMNS)}."}
        )
    reader.fieldnames = header
    today, seen, lines = timezone.localdate(), dict[str, int](), list[Line]()
    for row in reader:
        if len(lines) >= MAX_LINES:
            raise ValidationError(
                {
                    "file": gettext("The file has more than %(max_lines)s lines; split it.")
                    % {"max_lines": f"{MAX_LINES:,}"}
                }
            )
        lines.append(_classify(reader.line_num, {k: v or "" for k, v in row.items() if k}, seen, today))
    if not lines:
        raise ValidationError({"file": gettext("The file has a header but no data line.")})
    return Preview(hashlib.sha256(data).hexdigest(), lines)


@transaction.atomic
def patient_import_stage(*, actor: User, data: bytes, source_name: str, register: str, reason: str) -> PatientImport:
    """Write the dry run into the staging area; no patient is created until QA signs it off."""
    require_role(actor, Role.OPERATOR, Role.CLINICIAN, action="Importing patients from a legacy register")
    reason = require_reason(reason, what="import patients from a legacy register")
    if not register.strip():
        raise ValidationError({"register": gettext("Name the legacy register the file was exported from.")})
    preview = patient_import_preview(data=data)
    counts = preview.reconciliation
    with audit_context(actor, reason=reason):
        staged = PatientImport.objects.create(
            source_name=source_name[:200],
            source_sha256=preview.sha256,
            register=register.strip()[:200],
            reason=reason,
            staged_by=actor,
            lines=counts["lines"],
            new=counts[RowOutcome.NEW],
            matched=counts[RowOutcome.MATCHED],
            conflicts=counts[RowOutcome.CONFLICT],
            rejected=counts[RowOutcome.REJECTED],
        )
        PatientImportRow.objects.bulk_create(
            PatientImportRow(
                patient_import=staged,
                line=line.line,
                raw=line.raw,
                subject_code=line.subject_code[:200],
                outcome=line.outcome,
                message=line.message[:2000],
            )
            for line in preview.lines
        )
    return staged


@transaction.atomic
def patient_import_sign_off(
    *, actor: User, import_id: int, password: str, otp_token: str | None = None
) -> PatientImport:
    """QA signs the reconciliation off (Approved); the new patients are created and usable from now."""
    require_role(actor, Role.QA_REVIEWER, action="Signing off a patient import")
    staged = PatientImport.objects.select_for_update().get(pk=import_id)
    if staged.status != ImportStatus.STAGED:
        raise StateConflict(
            gettext("Import #%(pk)s is %(status)s; it cannot be signed off.")
            % {"pk": staged.pk, "status": staged.get_status_display().lower()}
        )
    if staged.staged_by_id == actor.pk:
        raise PermissionDenied(
            gettext("You staged import #%(pk)s; someone independent in QA must sign it off.") % {"pk": staged.pk}
        )
    rows = list(staged.rows.order_by("line"))
    if not staged.reconciled or len(rows) != staged.lines:
        raise ValidationError(
            {"import": f"Import #{staged.pk} does not reconcile: {staged.lines} lines, {len(rows)} staged rows."}
        )
    if staged.conflicts:
        lines = ", ".join(str(r.line) for r in rows if r.outcome == RowOutcome.CONFLICT)
        raise ValidationError(
            {
                "import": f"{staged.conflicts} line(s) conflict with registered patients (line {lines}): correct the "
                "file and stage it again."
            }
        )
    confirm_password(actor, password, otp_token=otp_token, purpose="sign off a patient import")
    now = timezone.now()
    with audit_context(actor, reason=f"patient import #{staged.pk} signed off"):
        staged.status, staged.signed_off_by, staged.signed_off_at = ImportStatus.SIGNED_OFF, actor, now
        staged.save(update_fields=["status", "signed_off_by", "signed_off_at"])
    signature_sign(
        signer=actor, password=password, password_checked=True, meaning=SignatureMeaning.APPROVED, target=staged
    )
    for row in rows:
        if row.outcome != RowOutcome.NEW:
            continue
        values = _cells(row.raw)
        why = f"imported from {staged.register} ({staged.source_name}, line {row.line}), import #{staged.pk} signed off"
        with audit_context(actor, reason=why, source=f"patient import #{staged.pk}"):
            patient = Patient(enrolled_by_id=staged.staged_by_id, **values)
            patient.full_clean()
            patient.save()
            row.patient = patient
            row.save(update_fields=["patient"])
    return staged
