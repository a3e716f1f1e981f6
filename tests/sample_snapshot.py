"""A complete synthetic snapshot: every section filled, long free text, µ ≥ × and accents.

Used by the rendering tests and the benchmark (bench/batch_record.py); it needs no
database, so the drawing code can be exercised on its own.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from batches.snapshot import (
    SCAN_MATCH,
    SCAN_REFUSED,
    AdverseEventEntry,
    AuditEntry,
    Checkpoint,
    Cover,
    CustodyEntry,
    Deviation,
    EquipmentRow,
    InfusionEntry,
    LotRow,
    QcResult,
    ReleaseEntry,
    ScanEntry,
    SignatureEntry,
    Snapshot,
    StepSection,
    TransitionEntry,
    ValueRow,
    text,
)

START = datetime(2026, 3, 2, 7, 45, tzinfo=UTC)
LONG_TEXT = (
    "During the CliniMACS run the operator observed a transient pressure alarm (≥ 250 mbar) at 00:42 into "
    "the program; the run resumed automatically after 11 s. The tubing set was inspected by Dr. Núñez and "
    "Mme Françoise Lefèvre; no leak, kink or bubble was found. Output CD133+ cells 131 × 10⁶ with viability "
    "96.2 % and purity 94 %, within the specification (≥ 70 %). The investigation reviewed the instrument "
    "log, the calibration record (valid to 2026-09-30) and the buffer temperature (2–8 °C, µ-controlled "
    "cold chain). Conclusion: no impact on product quality; the alarm is a known behaviour of the "
    "instrument with high-volume apheresis products. "
)


def _t(minutes: float) -> str:
    return text(START + timedelta(minutes=minutes))


def sample_snapshot(*, audit_events: int = 20, deviations: int = 2, qc_results: int = 7) -> Snapshot:
    """The demo record; the defaults give about 8 A4 pages."""
    operator, verifier = "Ana Martínez (operator)", "Jörg Weiß (verifier)"
    gcsf = [
        StepSection(
            title=f"G-CSF administration, day {day}",
            kind="gcsf",
            performed_by=operator,
            performed_at=_t(day * 1440),
            verified_by=verifier,
            verified_at=_t(day * 1440 + 20),
            values=[
                ValueRow("Administered at", _t(day * 1440 - 5)),
                ValueRow("Prescribed dose", "10.00", "µg/kg"),
                ValueRow("Calculated dose", "625.0", "µg"),
            ],
            lots=[LotRow("Filgrastim", "FIL-24-117", "2026-11-30")],
        )
        for day in range(1, 5)
    ]
    apheresis = StepSection(
        title="Apheresis collection",
        kind="apheresis",
        performed_by=operator,
        performed_at=_t(5 * 1440 + 300),
        verified_by=verifier,
        verified_at=_t(5 * 1440 + 320),
        values=[
            ValueRow("Started", _t(5 * 1440)),
            ValueRow("Ended", _t(5 * 1440 + 270)),
            ValueRow("Blood volumes processed", "2.50"),
            ValueRow("ACD-A", "820.0", "mL"),
            ValueRow("Product volume", "245.0", "mL"),
            ValueRow("Total nucleated cells", "48 × 10⁹", "cells"),
            ValueRow("CD133+ cells before selection", "190 × 10⁶", "cells"),
            ValueRow("Collection bag", "BAG-0001"),
        ],
        equipment=[EquipmentRow("Spectra Optia", "OPT-2231", "calibrated 2026-01-12")],
    )
    selection = StepSection(
        title="Immunomagnetic CD133+ selection",
        kind="selection",
        performed_by=operator,
        performed_at=_t(5 * 1440 + 600),
        verified_by=verifier,
        verified_at=_t(5 * 1440 + 615),
        values=[
            ValueRow("Program", "CD133 Enrichment 1.1"),
            ValueRow("Input CD133+ cells", "190 × 10⁶", "cells"),
            ValueRow("Output CD133+ cells", "131 × 10⁶", "cells"),
            ValueRow("Recovery", "68.95", "%"),
            ValueRow("Final formulation volume", "10.0", "mL"),
        ],
        lots=[
            LotRow("CD133 reagent", "CD133-7781", "2026-06-30"),
            LotRow("Tubing set", "TS-5531", "2026-08-31"),
            LotRow("Buffer", "BUF-2210", "2026-05-31"),
            LotRow("Human serum albumin", "HSA-9912", "2026-12-31"),
        ],
        equipment=[EquipmentRow("CliniMACS Plus", "CMP-0415")],
        late_entry_reason="Entered after the run: the cleanroom terminal was being requalified (IT ticket 5521).",
        notes=LONG_TEXT,
    )
    # test, method, specification, result, unit, verdict (the label printed) and its code
    tests = [
        ("CD133+ purity", "flow cytometry, single platform", "≥ 70 %", "94.1", "%", "pass", "pass"),
        ("Viability", "7-AAD (flow)", "≥ 80 %", "96.2", "%", "pass", "pass"),
        ("Viable CD133+ dose", "calculation", "37 to 166 × 10⁶ cells", "126 × 10⁶", "cells", "pass", "pass"),
        ("Gram stain", "microscopy", "no organisms seen", "no organisms seen", "", "pass", "pass"),
        ("Endotoxin", "LAL kinetic chromogenic", "< 0.5 EU/mL", "0.62", "EU/mL", "fail (OOS)", "oos"),
        ("Sterility", "14-day aerobic + anaerobic culture", "no growth", "pending", "", "pending", "pending"),
        ("Mycoplasma", "PCR", "not detected", "not detected", "", "pass", "pass"),
    ]
    qc = [
        QcResult(
            test=tests[i % len(tests)][0],
            method=tests[i % len(tests)][1],
            specification=tests[i % len(tests)][2],
            result=tests[i % len(tests)][3],
            unit=tests[i % len(tests)][4],
            verdict=tests[i % len(tests)][5],
            verdict_code=tests[i % len(tests)][6],
            analyst="Zoë Brontë (QC analyst)",
            performed_at=_t(5 * 1440 + 700 + i * 7),
            verified_by="Łukasz Żółć",
            verified_at=_t(5 * 1440 + 760 + i * 7),
            comment="Retest under investigation DEV-2026-014; see section 4."
            if "OOS" in tests[i % len(tests)][5]
            else "",
        )
        for i in range(qc_results)
    ]
    devs = [
        Deviation(
            number=f"DEV-2026-{14 + n:03d}",
            title="Endotoxin out of specification" if n == 0 else "Pressure alarm during CD133+ selection",
            classification="major" if n == 0 else "minor",
            status="closed",
            description=LONG_TEXT,
            investigation=LONG_TEXT * 3,
            conclusion="Root cause: sampling from the transfer bag port. Product quality not affected.",
            capa="Retrain staff on aseptic sampling (SOP-QC-031 rev. 4); add a port-swab step; check in 3 months.",
            opened_at=_t(5 * 1440 + 760),
            opened_by="Zoë Brontë (QC analyst)",
            closed_at=_t(6 * 1440),
            closed_by="Dr. Inés Peña (QA)",
            status_code="closed",
        )
        for n in range(deviations)
    ]
    release = [
        ReleaseEntry(
            "Conditionally released",
            "Dr. Inés Peña (QA)",
            _t(6 * 1440 + 30),
            "Record reviewed by exception; all deviations closed.",
            "Sterility pending: a positive culture alerts the treating physician and the sponsor at once.",
            signature=f"Dr. Inés Peña (ipena), conditionally released, valid; content SHA-256 {'e1' * 32}",
            specification="IGX1 release specification v2 (#7)",
            signed_at=_t(6 * 1440 + 30),
            decision_code="conditionally_released",
        ),
        ReleaseEntry(
            "Certified (QP)",
            "Dr. Søren Kierkegård (QP)",
            _t(6 * 1440 + 45),
            "Certified under EU GMP Annex 16.",
            signature=f"Dr. Søren Kierkegård (skierkegard), certified, valid; content SHA-256 {'f2' * 32}",
            signed_at=_t(6 * 1440 + 45),
            decision_code="certified",
        ),
    ]
    custody = [
        CustodyEntry(
            "Collection → laboratory",
            "Apheresis unit",
            "Cell processing laboratory",
            operator,
            _t(5 * 1440 + 280),
            "18.5 °C",
            verifier,
            _t(5 * 1440 + 295),
            "19.0 °C",
            "=G12342600004270",
        ),
        CustodyEntry(
            "Laboratory → interventional radiology",
            "Cell processing laboratory",
            "Interventional radiology, room 2",
            operator,
            _t(6 * 1440 + 60),
            "4.0 °C",
            "Dr. Béatrice Côté (clinician)",
            _t(6 * 1440 + 80),
            "5.5 °C",
            "=G12342600004270",
        ),
    ]
    scans = [
        ScanEntry(
            "Receipt of a hand-off",
            "=G12342600004270",
            "G123426000042",
            "match",
            verifier,
            _t(5 * 1440 + 295),
            SCAN_MATCH,
        ),
        ScanEntry(
            "Bedside identity check",
            "=G12342600007155",
            "G123426000042",
            "REFUSED: the bag belongs to another batch. Stop: do not infuse.",
            "Dr. Béatrice Côté (clinician)",
            _t(6 * 1440 + 110),
            SCAN_REFUSED,
        ),
        ScanEntry(
            "Bedside identity check",
            "=G12342600004270",
            "G123426000042",
            "match",
            "Dr. Béatrice Côté",
            _t(6 * 1440 + 118),
            SCAN_MATCH,
        ),
    ]
    adverse = [
        AdverseEventEntry(
            "Pelvic pain",
            "1",
            "no",
            "Possible",
            "During or right after infusion",
            _t(6 * 1440 + 240),
            _t(6 * 1440 + 400),
            "Dr. Béatrice Côté (clinician)",
            "Resolved with paracetamol 1 g.",
        )
    ]
    infusion = [
        InfusionEntry(
            "Bedside identity check",
            "DIN G123426000042 A scanned twice",
            "Dr. Béatrice Côté; RN Amélie",
            _t(6 * 1440 + 120),
        ),
        InfusionEntry("Left uterine artery", "63 × 10⁶ cells in 5.0 mL", "Dr. Béatrice Côté", _t(6 * 1440 + 135)),
        InfusionEntry("Right uterine artery", "63 × 10⁶ cells in 5.0 mL", "Dr. Béatrice Côté", _t(6 * 1440 + 150)),
    ]
    signatures = [
        SignatureEntry(step.performed_by, "Performed", step.performed_at, step.title, "amartinez", "ab" * 32, "Valid")
        for step in (*gcsf, apheresis, selection)
    ] + [
        SignatureEntry(step.verified_by, "Verified", step.verified_at, step.title, "jweiss", "cd" * 32, "Valid")
        for step in (*gcsf, apheresis, selection)
    ]
    statuses = ["Registered", "Mobilization", "Collection", "Processing", "Quarantine", "Conditionally released"]
    transitions = [
        TransitionEntry(a, b, operator, _t(i * 1440 + 1), "") for i, (a, b) in enumerate(itertools.pairwise(statuses))
    ]
    audit = [
        AuditEntry(
            at=_t(i * 11),
            actor=["amartinez", "jweiss", "zbronte", "system:documents"][i % 4],
            record=f"G-CSF administration #{i // 4 + 1}",
            action=["insert", "update", "update", "insert"][i % 4],
            changes=(
                f"prescribed_ug_per_kg: 9.50 → 10.00; drug_lot: FIL-24-11{i % 10} → FIL-24-117; note: Émilie µ ≥ ×"
                if i % 4 == 1
                else f"day={i % 5 + 1}; dose_ug=625.0; drug_expiry=2026-11-30; administered_at={_t(i * 11)}"
            ),
            reason="correction of a transcription error" if i % 4 == 1 else "",
        )
        for i in range(audit_events)
    ]
    return Snapshot(
        cover=Cover(
            organisation="CellBatch Cell Processing Facility",
            product_name="Autologous CD133+ cells for Asherman syndrome (IGX1)",
            product_code="YA001",
            process_definition="IGX1 version 3",
            batch_number="IGX1-2026-0042",
            batch_status="Conditionally released",
            subject_code="IGX1-S042",
            din="G123426000042",
            din_check="A",
            coi_id="CHG12342600004X",
            registered_at=_t(0),
            registered_by=operator,
        ),
        document_kind="release_record",
        revision=1,
        taken_at=_t(6 * 1440 + 50),
        time_zone="Europe/Madrid",
        process=[
            ValueRow("Process definition", "IGX1 v3: Autologous CD133+ cells for Asherman syndrome"),
            ValueRow("G-CSF regimen", "10 ± 10 %", "µg/kg/day"),
            ValueRow("Target dose", "37 to 166 × 10⁶", "CD133+ cells"),
            ValueRow("Shelf life", "24", "h from end of processing"),
        ],
        steps=[*gcsf, apheresis, selection],
        qc_results=qc,
        deviations=devs,
        release=release,
        infusion=infusion,
        custody=custody,
        identity_scans=scans,
        adverse_events=adverse,
        signatures=signatures,
        transitions=transitions,
        audit_trail=audit,
        checkpoint=Checkpoint("1842", _t(6 * 1440 + 48), "9f" * 32),
    )
