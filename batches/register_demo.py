"""The demo's material master, lots and equipment register, and the scans a demo operator makes at each step.

Everything goes through the services (batches.services.materials, equipment, workstations). seed_demo and
the tests' factories use it: a process definition drafted for the demo declares what its steps need, and
``step_scans`` picks, like an operator at the bench, a released lot of each material and a usable item of
each kind of equipment, clearing (and monitoring) a workstation first when the step needs one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from django.contrib.auth.models import User
from django.utils import timezone

from batches.models import (
    AreaGrade,
    Batch,
    Equipment,
    EquipmentKind,
    EquipmentUse,
    LotStatus,
    Material,
    MaterialGrade,
    MaterialLot,
    MonitoringSession,
    ProcessDefinition,
    SampleKind,
    StepEquipmentRequirement,
    StepMaterialRequirement,
)
from batches.services import equipment as equipment_services
from batches.services import materials, workstations
from batches.services.step_inputs import WORKSTATION_KINDS, Window, equipment_usable, lot_usable, workstation_free


class Cast(Protocol):
    """Who acts in the demo (batches.demo.Cast): an operator, QA, the materials keeper, one password."""

    @property
    def operator(self) -> User: ...
    @property
    def qa(self) -> User: ...
    @property
    def materials(self) -> User | None: ...
    @property
    def password(self) -> str: ...


CERTIFICATE = b"%PDF-1.4\n% demonstration certificate of analysis\n%%EOF\n"


@dataclass(frozen=True)
class DemoMaterial:
    code: str
    name: str
    category: str
    grade: MaterialGrade
    supplier: str
    storage: str
    unit: str


G = MaterialGrade
MATERIALS = [
    DemoMaterial(
        "MAT-FIL",
        "Filgrastim 30 MU/0.5 mL prefilled syringe",
        "G-CSF (filgrastim)",
        G.CLINICAL,
        "Amgen",
        "2–8 °C, protected from light",
        "syringe",
    ),
    DemoMaterial(
        "MAT-ACDA", "ACD-A anticoagulant 500 mL", "Anticoagulant ACD-A", G.CLINICAL, "Fenwal", "15–30 °C", "bag"
    ),
    DemoMaterial(
        "MAT-OPTIA",
        "Spectra Optia collection set (CMNC)",
        "Apheresis collection set",
        G.GMP,
        "Terumo BCT",
        "15–30 °C",
        "set",
    ),
    DemoMaterial(
        "MAT-CD133",
        "CliniMACS CD133 Reagent",
        "CD133 selection reagent",
        G.GMP,
        "Miltenyi Biotec",
        "2–8 °C, do not freeze",
        "vial",
    ),
    DemoMaterial(
        "MAT-CD133-RUO",
        "CD133 MicroBead Kit (research use only)",
        "CD133 selection reagent",
        G.RESEARCH,
        "Miltenyi Biotec",
        "2–8 °C",
        "vial",
    ),
    DemoMaterial("MAT-TS", "CliniMACS Tubing Set", "Selection tubing set", G.GMP, "Miltenyi Biotec", "15–25 °C", "set"),
    DemoMaterial(
        "MAT-BUF", "CliniMACS PBS/EDTA Buffer 1000 mL", "Selection buffer", G.GMP, "Miltenyi Biotec", "15–25 °C", "bag"
    ),
    DemoMaterial(
        "MAT-HSA", "Human serum albumin 20 % 50 mL", "Human serum albumin", G.CLINICAL, "Grifols", "2–25 °C", "vial"
    ),
    DemoMaterial(
        "MAT-BAG", "Transfer bag 150 mL (final container)", "Final container", G.GMP, "Macopharma", "15–25 °C", "bag"
    ),
]
# (lot code, material code, supplier lot, days to expiry, quantity, final status)
LOTS = [
    ("L-FIL-0117", "MAT-FIL", "FIL-24-117", 200, "400", LotStatus.RELEASED),
    ("L-ACDA-0032", "MAT-ACDA", "ACD-24-032", 300, "400", LotStatus.RELEASED),
    ("L-OPT-0508", "MAT-OPTIA", "OPT-24-508", 300, "200", LotStatus.RELEASED),
    ("L-CD133-7781", "MAT-CD133", "CD133-7781", 90, "200", LotStatus.RELEASED),
    ("L-CD133-RUO-0042", "MAT-CD133-RUO", "130-097-049-42", 120, "20", LotStatus.RELEASED),
    ("L-CD133-7802", "MAT-CD133", "CD133-7802", 150, "20", LotStatus.QUARANTINE),
    ("L-TS-5531", "MAT-TS", "TS-5531", 90, "200", LotStatus.RELEASED),
    ("L-BUF-2210", "MAT-BUF", "BUF-2210", 90, "400", LotStatus.RELEASED),
    ("L-HSA-9912", "MAT-HSA", "HSA-9912", 90, "400", LotStatus.RELEASED),
    ("L-HSA-9650", "MAT-HSA", "HSA-9650", -14, "10", LotStatus.EXPIRED),
    ("L-BAG-3307", "MAT-BAG", "MB-3307", 400, "400", LotStatus.RELEASED),
]
# step → (category, grade required, quantity, unit)
REQUIREMENTS: dict[str, list[tuple[str, MaterialGrade, str, str]]] = {
    "gcsf": [("G-CSF (filgrastim)", G.CLINICAL, "2", "syringe")],
    "apheresis": [("Anticoagulant ACD-A", G.CLINICAL, "2", "bag"), ("Apheresis collection set", G.GMP, "1", "set")],
    "selection": [
        ("CD133 selection reagent", G.GMP, "1", "vial"),
        ("Selection tubing set", G.GMP, "1", "set"),
        ("Selection buffer", G.GMP, "3", "bag"),
        ("Human serum albumin", G.CLINICAL, "1", "vial"),
        ("Final container", G.GMP, "1", "bag"),
    ],
}
EQUIPMENT_NEEDED = {
    "apheresis": [EquipmentKind.APHERESIS],
    "selection": [EquipmentKind.INSTRUMENT, EquipmentKind.BIOSAFETY_CABINET, EquipmentKind.CENTRIFUGE],
}
# (code, name, kind, serial, location, days to calibration due, area grade)
EQUIPMENT = [
    ("APH-01", "Spectra Optia", EquipmentKind.APHERESIS, "OPT-2231", "Apheresis unit", 150, ""),
    ("CMP-01", "CliniMACS Plus", EquipmentKind.INSTRUMENT, "CMP-0415", "Cleanroom 2", 120, ""),
    ("CMP-02", "CliniMACS Plus", EquipmentKind.INSTRUMENT, "CMP-0388", "Cleanroom 1", -3, ""),
    ("CEN-01", "Rotanta 460 R centrifuge", EquipmentKind.CENTRIFUGE, "RT-46-1177", "Cleanroom 2", 200, ""),
    ("BSC-01", "Biosafety cabinet class II", EquipmentKind.BIOSAFETY_CABINET, "BSC-9921", "Cleanroom 2", 180, "A"),
    ("BSC-02", "Biosafety cabinet class II", EquipmentKind.BIOSAFETY_CABINET, "BSC-9922", "Cleanroom 2", 180, "A"),
    ("FC-01", "FACSCanto II", EquipmentKind.FLOW_CYTOMETER, "FC-V0712", "QC laboratory", 60, ""),
    ("CC-01", "NucleoCounter NC-200", EquipmentKind.CELL_COUNTER, "NC-200-3381", "QC laboratory", 60, ""),
    ("INC-01", "CO2 incubator", EquipmentKind.INCUBATOR, "INC-5520", "QC laboratory", 90, ""),
    ("FRG-01", "Pharmacy fridge 2–8 °C", EquipmentKind.FRIDGE, "FR-8812", "Stores", 90, ""),
]


def ensure_register(cast: Cast) -> None:
    """Create the demo's materials, lots and equipment that are missing (idempotent)."""
    keeper = cast.materials
    if keeper is None:
        return
    today = timezone.localdate()
    for m in MATERIALS:
        if not Material.objects.filter(code=m.code).exists():
            materials.material_create(
                actor=keeper,
                values={
                    "code": m.code,
                    "name": m.name,
                    "category": m.category,
                    "grade": m.grade,
                    "supplier": m.supplier,
                    "storage_condition": m.storage,
                    "unit": m.unit,
                    "specification": f"Certificate of analysis: identity, sterility, endotoxin per {m.supplier}.",
                },
            )
    for code, material, supplier_lot, days, quantity, status in LOTS:
        if MaterialLot.objects.filter(code=code).exists():
            continue
        lot = materials.lot_receive(
            actor=keeper,
            material_id=Material.objects.get(code=material).pk,
            code=code,
            supplier_lot=supplier_lot,
            expiry_date=today + timedelta(days=days),
            quantity=Decimal(quantity),
            certificate_name=f"CoA {supplier_lot}.pdf",
            certificate=CERTIFICATE + supplier_lot.encode(),
        )
        if status != LotStatus.QUARANTINE:
            reason = "" if status == LotStatus.RELEASED else "Expiry date passed in stores; lot kept for destruction."
            materials.lot_status_set(actor=cast.qa, lot_id=lot.pk, status=status, password=cast.password, reason=reason)
    for code, name, kind, serial, location, days, grade in EQUIPMENT:
        if not Equipment.objects.filter(code=code).exists():
            register_item(
                cast,
                code=code,
                name=name,
                kind=kind,
                serial=serial,
                location=location,
                due=today + timedelta(days=days),
                grade=grade,
            )


def register_item(
    cast: Cast, *, code: str, name: str, kind: str, serial: str, location: str, due: date, grade: str = ""
) -> Equipment:
    keeper = cast.materials
    if keeper is None:
        raise ValueError("The demo register needs a materials-and-equipment user.")
    return equipment_services.equipment_register(
        actor=keeper,
        values={
            "code": code,
            "name": name,
            "kind": kind,
            "serial_number": serial,
            "location": location,
            "calibration_due": due,
            "maintenance_due": due + timedelta(days=30),
            "area_grade": grade,
        },
    )


def declare_requirements(cast: Cast, definition: ProcessDefinition) -> None:
    """Declare the demo's materials and equipment on a draft definition (before its approvals)."""
    if cast.materials is None:
        return
    ensure_register(cast)
    for kind, needs in REQUIREMENTS.items():
        for category, grade, quantity, unit in needs:
            materials.material_requirement_add(
                actor=cast.qa,
                definition_id=definition.pk,
                step_kind=kind,
                category=category,
                grade=grade,
                quantity=Decimal(quantity),
                unit=unit,
            )
    for kind, items in EQUIPMENT_NEEDED.items():
        for item in items:
            equipment_services.equipment_requirement_add(
                actor=cast.qa, definition_id=definition.pk, step_kind=kind, kind=item
            )


def step_scans(cast: Cast, batch: Batch, kind: str, window: Window) -> dict[str, list[str]]:
    """The codes a demo operator scans at ``kind``: a usable lot per material, a usable item per kind."""
    lots = []
    for need in StepMaterialRequirement.objects.filter(process_definition=batch.process_definition, step_kind=kind):
        released = MaterialLot.objects.filter(material__category=need.category, status=LotStatus.RELEASED)
        usable = [
            lot
            for lot in released.select_related("material").order_by("expiry_date", "code")
            if not lot_usable(lot, grade=need.grade, quantity=need.quantity, until=window.end)
        ]
        if usable:
            lots.append(usable[0].code)
    items = []
    needed = StepEquipmentRequirement.objects.filter(process_definition=batch.process_definition, step_kind=kind)
    for item_need in needed:
        candidates = [
            item
            for item in Equipment.objects.filter(kind=item_need.kind).order_by("code")
            if not equipment_usable(item, until=window.end)
        ]
        if item_need.kind in WORKSTATION_KINDS:
            items.append(_free_workstation(cast, batch, window, candidates).code)
        elif candidates:
            items.append(candidates[0].code)
    return {"lots": lots, "equipment": items}


def _free_workstation(cast: Cast, batch: Batch, window: Window, candidates: list[Equipment]) -> Equipment:
    """A cabinet the step may use: free already, free once cleared, or a new one for the demo."""
    for item in candidates:
        _monitor(cast, item, window)
        if not workstation_free(item, batch=batch, window=window):
            return item
    for item in candidates:  # none free: clear the first whose last patient left before this step
        last = EquipmentUse.objects.filter(equipment=item).order_by("-used_until").first()
        if last is not None and last.used_until + timedelta(minutes=1) < window.start:
            _clear(cast, item, at=last.used_until + timedelta(minutes=1))
            if not workstation_free(item, batch=batch, window=window):
                return item
    number = Equipment.objects.filter(kind=EquipmentKind.BIOSAFETY_CABINET).count() + 1
    item = register_item(
        cast,
        code=f"BSC-{number:02d}",
        name="Biosafety cabinet class II",
        kind=EquipmentKind.BIOSAFETY_CABINET,
        serial=f"BSC-99{number:02d}",
        location="Cleanroom 3",
        due=timezone.localdate() + timedelta(days=180),
        grade=AreaGrade.A,
    )
    _monitor(cast, item, window)
    return item


def _clear(cast: Cast, item: Equipment, *, at: datetime) -> None:
    late = timezone.now() - at > timedelta(minutes=30)
    clearance = workstations.line_clearance_record(
        actor=cast.operator,
        workstation_id=item.pk,
        performed_at=at,
        product_removed=True,
        surfaces_cleaned=True,
        password=cast.password,
        late_entry_reason="Transcribed from the cleanroom logbook." if late else "",
    )
    workstations.line_clearance_verify(actor=cast.qa, clearance_id=clearance.pk, password=cast.password)


def _monitor(cast: Cast, item: Equipment, window: Window) -> None:
    """A grade A cabinet the demo uses is monitored from a day before the step (one open session each)."""
    if (
        item.area_grade != AreaGrade.A
        or MonitoringSession.objects.filter(workstation=item, closed_at__isnull=True).exists()
    ):
        return
    stamp = f"{item.code}-{timezone.localdate(window.start):%y%m%d}-{MonitoringSession.objects.count() + 1}"
    workstations.monitoring_session_open(
        actor=cast.operator,
        workstation_id=item.pk,
        opened_at=window.start - timedelta(days=1),
        samples=[
            (SampleKind.SETTLE_PLATE, f"SP-{stamp}", "work zone, left"),
            (SampleKind.AIR_SAMPLE, f"AS-{stamp}", "work zone, centre"),
        ],
    )


# The instrument a demo analyst scans for each QC test (when the register has it).
QC_INSTRUMENTS = {"cd133_purity": "FC-01", "viability": "FC-01", "sterility": "INC-01", "mycoplasma": "INC-01"}


def qc_scans(test: str) -> list[str]:
    code = QC_INSTRUMENTS.get(test)
    return [code] if code and Equipment.objects.filter(code=code).exists() else []
