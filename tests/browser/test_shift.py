"""A lab shift in a real browser: one new batch from enrolment to the auditor's download of its signed record.

Every person works at a workstation of their own, by keyboard and mouse, from their home page's work
queue. The walk checks what the screens say, runs axe-core on the home, batch, review and desk pages
(at a desktop's width, and the desk at a tablet's), saves the screenshots the user guide shows, and
counts what the shift cost: page loads and password entries, with every record still signed.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from batches import demo_chain
from batches.demo import apheresis_values, gcsf_given_at, selection_values
from batches.isbt128 import Din
from batches.models import Batch, BatchDocument, CustodyEvent, ElectronicSignature, Label, LabelBag
from batches.roles import Role
from batches.signature_checks import signature_states
from tests.browser.shift import TABLET, Shift, screenshot
from tests.browser.spanish import english_seen_in_spanish
from tests.browser.walk import (
    expect_message,
    field_label,
    fill_scans,
    local,
    no_blocking_violations,
    open_queue_item,
    print_label,
    sign,
    wait_for,
)
from tests.factories import Personas, approved_definition, approved_specification, make_user, scans
from tests.workers import running_worker

# What the whole shift may cost (URS-422; docs/user-guide.md says where the loads go). It takes 48 loads and
# 15 password entries today: the pages that wait for someone else update themselves, labels are printed on
# the batch page, and the first bedside scan is signed with the infusion.
MAX_PAGE_LOADS = 50
MAX_PASSWORD_ENTRIES = 15
GCSF_DAYS = 4
# A page waiting for someone else's work shows it within one poll (batches.views.live) plus drawing time.
LIVE_WAIT = 30_000


@pytest.fixture
def worker_env(signing_pki: dict[str, str], settings: object, tmp_path: Path) -> dict[str, str]:
    """Where the worker that builds and seals the record finds its certificates and writes the file."""
    media = tmp_path / "media"
    settings.MEDIA_ROOT = str(media)  # type: ignore[attr-defined]
    return {**signing_pki, "CELLBATCH_MEDIA_ROOT": str(media), "CELLBATCH_DOCUMENT_REPUBLISH_SECONDS": "1"}


@pytest.fixture
def master_data(people: Personas, settings: object) -> Personas:
    """What exists before the shift: trained people, an approved process definition (with its materials and
    equipment), a QC specification and the shippers' logger model."""
    approved_definition(people.qa, people.qp)
    approved_specification(people)
    make_user("second_clinician", Role.CLINICIAN, first_name="Second", last_name="Clinician")
    demo_chain.demo_logger_model()  # the model of the shippers' temperature loggers
    return people


@pytest.mark.urs(
    "URS-420",
    "URS-421",
    "URS-422",
    "URS-423",
    "URS-424",
    "URS-425",
    "URS-427",
    "URS-445",
    "URS-450",
    "URS-451",
    "URS-452",
)
def test_a_new_batch_walks_from_enrolment_to_the_auditors_download(
    shift: Shift, master_data: Personas, worker_env: dict[str, str]
) -> None:
    # --- Operator: enrol, register, start mobilization, record the G-CSF days ---------------------------------
    operator = shift.person("operator")
    expect(operator.locator("#home-operator")).to_contain_text("Manufacturing")
    screenshot(operator, "operator-home")
    no_blocking_violations(operator, "the operator's home")
    # A new subject is enrolled on the registration form itself; the one approved definition is chosen already.
    operator.get_by_role("link", name="Register a batch").click()
    operator.get_by_label(field_label("Or enrol a new subject: subject code")).fill("IGX1-S101")
    operator.get_by_label(field_label("Consent date")).fill((timezone.localdate() - timedelta(days=20)).isoformat())
    operator.get_by_label(field_label("Body weight (kg)")).fill("61.0")
    operator.get_by_label(field_label("Eligibility confirmed")).check()
    operator.get_by_label(field_label("Start mobilization now")).check()
    operator.get_by_role("button", name="Register batch").click()
    batch = Batch.objects.get(patient__subject_code="IGX1-S101")
    expect(operator.locator("#batch-header h1")).to_have_text(batch.batch_number)
    expect(operator.locator("#batch-header")).to_contain_text("Mobilization")
    # The four days, transcribed from the ward's log, in one form with one signature.
    now = timezone.now()
    form = operator.locator("#record-form")
    expect(form.get_by_role("heading")).to_have_text("Record G-CSF days (one signature for all)")
    expect(form.get_by_label(field_label("Prescribed dose (µg/kg)"))).to_have_value("10.00")
    # Daily doses, the last the evening before the morning apheresis; the course's filgrastim lot scanned once.
    given = {day: gcsf_given_at(day, days=GCSF_DAYS) for day in range(1, GCSF_DAYS + 1)}
    fill_scans(form, scans(master_data, batch, "gcsf", {"administered_at": given[GCSF_DAYS]}))
    for day in range(1, GCSF_DAYS + 1):
        form.get_by_label(field_label(f"Day {day}: administered at")).fill(local(given[day]))
    form.get_by_label(field_label("Filgrastim lot")).fill("FIL-24-117")
    form.get_by_label(field_label("Filgrastim expiry")).fill((now + timedelta(days=200)).date().isoformat())
    form.get_by_label(field_label("Late entry reason")).fill("Transcribed from the ward's G-CSF log.")
    sign(form, "Record and sign")
    expect_message(operator, f"Recorded G-CSF days 1, 2, 3, 4 of batch {batch.batch_number}: signed once for all.")
    screenshot(operator, "batch-page-operator")
    no_blocking_violations(operator, "the batch page")

    # --- Verifier: the queue opens the batch; one signature verifies the four days ----------------------------
    verifier = shift.person("verifier")
    screenshot(verifier, "verifier-home")
    open_queue_item(verifier, "Steps to verify", f"{batch.batch_number}: G-CSF day 1, G-CSF day 2")
    verify_days = verifier.locator("#verify-gcsf-days")
    expect(verify_days).to_contain_text("One signature for: G-CSF day 1, G-CSF day 2, G-CSF day 3, G-CSF day 4")
    screenshot(verifier, "verify-all-gcsf-days")
    sign(verify_days, "Verify all and sign")
    expect_message(verifier, f"Verified G-CSF days 1, 2, 3, 4 of batch {batch.batch_number}")

    # --- Operator and verifier: apheresis, then selection ------------------------------------------------------
    # The days are verified (the operator's page shows it by itself): the operator starts collection (the
    # batch gets its DIN) and lands on the apheresis form, with the collection bag's label printed from the
    # same page; scanned off the bag into the apheresis record, the same scan accounts for it as applied.
    expect(operator.locator("#verified-gcsf")).to_contain_text("4 verified steps", timeout=LIVE_WAIT)
    operator.locator("#state-actions").get_by_role("button", name="Start collection", exact=True).click()
    expect(operator.locator("#batch-header")).to_contain_text("Collection")
    expect(operator.locator("#batch-labels")).to_have_attribute("open", "")
    no_blocking_violations(operator, "the batch page with its labelling forms")
    screenshot(operator, "batch-page-labels")
    bag = print_label(operator, batch, LabelBag.COLLECTION)
    form = operator.locator("#record-form")
    expect(form.get_by_role("heading")).to_have_text("Record apheresis collection")
    collected = apheresis_values()
    fill_scans(form, scans(master_data, batch, "apheresis", collected))
    for label, value in {
        "Device": "Spectra Optia",
        "Device serial number": "OPT-2231",
        "Started at": local(collected["started_at"]),
        "Ended at": local(collected["ended_at"]),
        "Late entry reason": collected["late_entry_reason"],
        "Blood volumes processed": "2.50",
        "ACD-A (mL)": "820.0",
        "Product volume (mL)": "245.0",
        "Total nucleated cells": "48000000000",
        "CD133+ cells before selection": "190000000",
        "Collection bag identifier": bag,
    }.items():
        form.get_by_label(field_label(label)).fill(value)
    sign(form, "Record and sign")
    expect_message(operator, "apheresis recorded and signed as performed.")
    assert Label.objects.get(label_id=bag).status == "applied"

    # The verifier's page shows the new step by itself (no reload), and the operator's its verification.
    sign(verifier.locator(f"#step-apheresis-{batch.apheresis.pk} form.cb-form").first, "Verify and sign")
    expect_message(verifier, "apheresis verified and signed.")

    form = operator.locator("#record-form")
    expect(form.get_by_role("heading")).to_have_text("Start processing and record CD133+ selection", timeout=LIVE_WAIT)
    expiry = (now + timedelta(days=90)).date().isoformat()
    selected = selection_values()
    fill_scans(form, scans(master_data, batch, "selection", selected))
    for label, value in {
        "Instrument": "CliniMACS Plus",
        "Instrument serial number": "CMP-0415",
        "Program": "CD133 Enrichment 1.1",
        "CD133 reagent lot": "CD133-7781",
        "CD133 reagent expiry": expiry,
        "Tubing set lot": "TS-5531",
        "Tubing set expiry": expiry,
        "Buffer lot": "BUF-2210",
        "Buffer expiry": expiry,
        "Human serum albumin lot": "HSA-9912",
        "Human serum albumin expiry": expiry,
        "Started at": local(selected["started_at"]),
        "Ended at": local(selected["ended_at"]),
        "Late entry reason": selected["late_entry_reason"],
        "Input CD133+ cells": "190000000",
        "Output CD133+ cells": "131000000",
        "Final formulation volume (mL)": "10.0",
    }.items():
        form.get_by_label(field_label(label)).fill(value)
    sign(form, "Record and sign")
    expect_message(operator, "CD133+ selection recorded and signed as performed.")

    batch.refresh_from_db()
    sign(verifier.locator(f"#step-selection-{batch.selection.pk} form.cb-form").first, "Verify and sign")
    expect_message(verifier, "CD133+ selection verified and signed.")
    operator.get_by_role("button", name="Move to quarantine").click()
    expect(operator.locator("#batch-header")).to_contain_text("Quarantine")
    # On the same page, the final bag's label, then one signed form: the labels reconciled and the final
    # container inspected.
    final_label = print_label(operator, batch, LabelBag.FINAL)
    packaging = operator.locator("#desk-packaging")
    packaging.get_by_label("Scan the final bag's label (label id)").fill(final_label)
    packaging.get_by_label("Container type").fill("50 mL transfer bag")
    packaging.get_by_label("Container lot").fill("TB-2291")
    packaging.get_by_label("Container expiry").fill((now + timedelta(days=300)).date().isoformat())
    for check in ("Appearance as expected", "Container intact", "Label correct"):
        packaging.get_by_label(re.compile(re.escape(check))).check()
    sign(packaging, "Record and sign")
    expect_message(operator, "Recorded and signed.")

    # --- QC analyst: a sample, then every result in one signed form --------------------------------------------
    analyst = shift.person("qc_analyst")
    screenshot(analyst, "qc-analyst-home")
    open_queue_item(analyst, "QC results to record", batch.batch_number)
    results = analyst.locator("#record-results")
    results.get_by_label(field_label("Sample code")).fill(f"{batch.batch_number}-QC1")
    # Drawn at formulation, five minutes after the selection ended; tested now (after the tests' shortest times).
    results.get_by_label(field_label("Taken at")).fill(local(selected["ended_at"] + timedelta(minutes=5)))
    results.get_by_label(field_label("Late-entry reason")).fill(
        "Sample drawn at formulation; entered with its results."
    )
    # The 14-day culture is read for the release of a fresh product: a preliminary reading, with its reason.
    results.get_by_label(field_label("Preliminary reading: reason")).fill(
        "Culture read before day 14 for release of a fresh product: no growth so far."
    )
    for test, value in {
        "cd133_purity": "92.5",
        "viability": "95",
        "gram_stain": "no organisms seen",
        "endotoxin": "0.12",
        "sterility": "no growth",
        "mycoplasma": "not detected",
    }.items():
        results.locator(f"#row-{test} input[name$='-value']").fill(value)
    expect(results.locator("#row-cd133_purity input[name$='-unit']")).to_have_value("%")
    screenshot(analyst, "qc-sample-results")
    sign(results, "Record and sign")
    expect_message(analyst, "records signed with one signature")

    # --- Verifier: one signature reviews the sample's results --------------------------------------------------
    # The verifier's batch page, updated by itself, reviews every open result with one signature.
    sign(verifier.locator("#review-results"), "Review all and sign")
    expect_message(verifier, "Reviewed 7 QC results of batch")

    # --- QA: the review page, a deliberate decision ------------------------------------------------------------
    qa = shift.person("qa_reviewer")
    open_queue_item(qa, "Batches awaiting a QA decision", batch.batch_number)
    expect(qa.get_by_label("Decision")).to_have_value("")
    no_blocking_violations(qa, "the QA review page")
    screenshot(qa, "qa-review")
    # Only the fields that apply: the plan for a positive culture appears with a conditional release only.
    plan = qa.locator("#id_positive_result_plan")
    expect(plan).to_be_hidden()
    qa.get_by_label("Decision").select_option("release_conditionally")
    expect(plan).to_be_visible()
    qa.get_by_label("Decision").select_option("release")
    expect(plan).to_be_hidden()
    sign(qa.locator("form.cb-form, form").filter(has=qa.get_by_label("Decision")), "Sign decision")
    expect_message(qa, "qa decision: release.")  # QA's decision; the product is released by the QP's certification

    # --- QP: certification -------------------------------------------------------------------------------------
    qp = shift.person("qualified_person")
    open_queue_item(qp, "Batches to certify", batch.batch_number)
    expect(qp.locator("#id_positive_result_plan")).to_have_count(0)  # a QP only certifies
    qp.get_by_label("Decision").select_option("certify")
    sign(qp.locator("form").filter(has=qp.get_by_label("Decision")), "Sign decision")
    expect_message(qp, "certification by the qualified person")

    # --- Operator: dispatch from the desk ----------------------------------------------------------------------
    operator.goto("/admin/")
    open_queue_item(operator, "Products to dispatch", batch.batch_number)
    dispatch = operator.locator("#desk-dispatch")
    dispatch.get_by_label("Dispatched to").fill("Interventional radiology, room 2")
    dispatch.get_by_label("Temperature at dispatch (°C)").fill("4.0")
    sign(dispatch, "Record and sign")
    expect_message(operator, "Recorded and signed.")

    # --- Clinicians at the bedside, on a tablet ----------------------------------------------------------------
    batch.refresh_from_db()
    scan = Din(batch.din).barcode_data
    event = CustodyEvent.objects.get(batch=batch, kind="lab_to_radiology")
    # Two independent scans at receipt: the second clinician's first, then the receiver's with the logger file.
    second = shift.person("second_clinician", viewport=TABLET)
    open_queue_item(second, "Products arriving", batch.batch_number)
    second.locator("form[id^='desk-receipt_scan']").get_by_label("First person: scan the bag's DIN barcode").fill(scan)
    second.locator("form[id^='desk-receipt_scan']").get_by_role("button", name="Record").click()
    expect_message(second, "Recorded.")
    clinician = shift.person("clinician", viewport=TABLET)
    open_queue_item(clinician, "Products arriving", batch.batch_number)
    receive = clinician.locator("form[id^='desk-receive']")
    receive.get_by_label("Scan the bag's DIN barcode").fill(scan)
    receive.get_by_label("Temperature at receipt (°C)").fill("5.5")
    receive.get_by_label("Temperature logger model").select_option(demo_chain.demo_logger_model().name)
    journey = demo_chain.logger_csv(event.handed_over_at - timedelta(minutes=1), timezone.now())
    receive.get_by_label("Temperature logger file (CSV)").set_input_files(
        {"name": "shipper.csv", "mimeType": "text/csv", "buffer": journey}
    )
    receive.get_by_role("button", name="Record").click()
    expect_message(clinician, "Recorded.")
    # At a tablet's width the custody table is whole: within the screen, and nothing scrolls sideways.
    box = clinician.locator("#custody table").first.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= TABLET["width"], box
    assert clinician.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
    no_blocking_violations(clinician, "the delivery desk (tablet)")
    screenshot(clinician, "delivery-desk-tablet", full_page=True)
    # The first clinician's scans are recorded at once, and signed later with the infusion they record.
    bedside = clinician.locator("#desk-bedside_scan")
    bedside.get_by_label("Scan the bag's DIN barcode").fill(scan)
    bedside.get_by_label("Scan the patient's wristband (subject code)").fill("IGX1-S101")
    bedside.get_by_role("button", name="Record").click()
    expect_message(clinician, "Recorded.")

    # The second clinician's desk shows the confirmation by itself (no reload).
    confirm = second.locator("#desk-bedside_confirm")
    confirm.get_by_label("Second clinician: scan the bag's DIN barcode").fill(scan)
    confirm.get_by_label("Second clinician: scan the patient's wristband").fill("IGX1-S101")
    sign(confirm, "Record and sign")
    expect_message(second, "Recorded and signed.")

    # The infusion form was on the first clinician's page since the first scan; its one signature also signs
    # that scan (a signed manifest of both records).
    infusion = clinician.locator("#desk-infusion")
    # The shift is compressed into minutes: the infusion starts after the confirmation, to the second.
    started = timezone.now() + timedelta(seconds=1)
    infusion.get_by_label("Infusion started").fill(local(started))
    infusion.get_by_label("Infusion ended").fill(local(started + timedelta(seconds=1)))
    infusion.get_by_label("Left uterine artery: CD133+ cells").fill("61000000")
    infusion.get_by_label("Left: volume (mL)").fill("5.0")
    infusion.get_by_label("Right uterine artery: CD133+ cells").fill("63000000")
    infusion.get_by_label("Right: volume (mL)").fill("5.0")
    wait_for(lambda: timezone.now() > started + timedelta(seconds=1.5), "the end of the infusion", timeout=5)
    sign(infusion, "Record and sign")
    expect_message(clinician, "Recorded and signed.")

    # --- QA closes; a worker builds and seals the record; the auditor downloads it -----------------------------
    with running_worker(extra_env=worker_env):
        qa.goto("/admin/")
        open_queue_item(qa, "Batches to close", batch.batch_number)
        sign(qa.locator("#desk-close"), "Record and sign")
        expect_message(qa, "Recorded and signed.")
        # The auditor comes once the worker has sealed the record (tests/browser/test_pages.py shows the
        # list refreshing itself while a record is being built).
        wait_for(lambda: BatchDocument.objects.filter(batch=batch, status="signed").exists(), "the sealed record")
        auditor = shift.person("auditor")
        download_link = auditor.locator("#role-home").get_by_role("link", name=f"{batch.batch_number} · ").first
        with auditor.expect_download() as download:
            download_link.click()
        assert download.value.suggested_filename.endswith(".pdf")
    screenshot(auditor, "auditor-records")

    # --- What the shift cost, and every record still signed ------------------------------------------------------
    batch.refresh_from_db()
    assert batch.status == "closed"
    states = signature_states(batch)
    broken = [(str(c.signature), c.signature.content_type.model, c.detail) for c in states if c.needs_signing_again]
    assert states
    assert not broken, broken
    assert ElectronicSignature.objects.filter(batch=batch, manifest__isnull=False).count() >= GCSF_DAYS + 7 + 6
    first_scan = ElectronicSignature.objects.get(batch=batch, content_type__model="bedsidecheck", meaning="performed")
    assert first_scan.signer.username == "clinician"
    assert first_scan.manifest is not None
    assert [e["record"] for e in first_scan.manifest.entries] == ["batches.bedsidecheck", "batches.infusion"]
    print(f"\nShift of batch {batch.batch_number}: {shift.report()}\n" + "\n".join(shift.loads))
    assert shift.page_loads <= MAX_PAGE_LOADS, shift.report()
    assert shift.password_entries <= MAX_PASSWORD_ENTRIES, shift.report()
    # --- The same pages in Spanish: each person switches language and opens them again --------------------------
    assert english_seen_in_spanish(shift) == {}
