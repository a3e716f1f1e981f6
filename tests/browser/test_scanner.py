"""Scanner-first forms in a real browser (Playwright, Chromium): the identity field has the focus, a scan
typed as a scanner types it (fast, then Enter) is checked on its own, a refused scan clears the field and
says why, an accepted one moves to the next field; on the receipt forms and the bedside form."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from batches import demo_chain
from batches.models import BedsideCheck, CustodyEvent, IdentityScan
from qc.models import Deviation
from tests.custody_helpers import dispatched_batch, scan_of
from tests.factories import Personas, make_user

pytestmark = [pytest.mark.django_db(transaction=True)]

WRONG_BAG = "=G12341765432170"  # a valid DIN barcode of another product


def page_for(browser: Browser, live_server: Any, user: Any) -> Page:
    """A browser tab signed in as ``user`` (the session made by Django's test client)."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(base_url=live_server.url)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    return context.new_page()


def scan(page: Page, data: str) -> None:
    """What a keyboard-wedge scanner does: the characters in a burst, then Enter."""
    page.keyboard.type(data, delay=4)
    page.keyboard.press("Enter")


def focused_name(page: Page) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.name"))


@pytest.mark.urs("URS-414")
def test_scanner_enter_on_the_receipt_forms(people: Personas, browser: Browser, live_server: Any) -> None:
    batch = dispatched_batch(people, receive=False)
    event = CustodyEvent.objects.get(batch=batch, kind="lab_to_radiology")
    second = make_user("clinician_b", "clinician")
    logger_model = demo_chain.demo_logger_model().name
    desk = f"/admin/delivery-desk/{batch.pk}/"

    first = page_for(browser, live_server, people.clinician)
    first.goto(desk)
    field = first.locator(f"#id_receipt_scan-{event.pk}_scanned_data")
    expect(field).to_be_focused()
    scan(first, WRONG_BAG)
    message = first.locator(f"#id_receipt_scan-{event.pk}_scanned_data-scan-message")
    expect(message).to_contain_text("Wrong product")
    expect(field).to_have_value("")  # cleared: the next scan is not appended to the refused one
    expect(field).to_be_focused()
    assert first.url.endswith(desk)  # Enter did not send the form
    assert Deviation.objects.get(batch=batch).kind == "identity"
    scan(first, scan_of(batch))
    expect(message).to_contain_text("matches batch")
    expect(field).not_to_be_focused()
    assert focused_name(first) != "override_username"  # a scanned DIN needs no override
    first.keyboard.press("Enter")  # on the button: the form is sent
    expect(first.locator(".messagelist")).to_contain_text("Recorded.")

    receiver = page_for(browser, live_server, second)
    receiver.goto(desk)
    field = receiver.locator(f"#id_receive-{event.pk}_scanned_data")
    expect(field).to_be_focused()
    scan(receiver, scan_of(batch)[:-1] + "1")  # a misread flag character
    expect(receiver.locator(f"#id_receive-{event.pk}_scanned_data-scan-message")).to_contain_text("do not match")
    expect(field).to_have_value("")
    scan(receiver, scan_of(batch))
    expect(receiver.locator(f"#id_receive-{event.pk}_temperature_c")).to_be_focused()
    receiver.keyboard.type("5.0")
    receiver.select_option(f"#id_receive-{event.pk}_logger_model", logger_model)
    csv = demo_chain.logger_csv(event.handed_over_at - timedelta(minutes=1), timezone.now() + timedelta(minutes=1))
    receiver.set_input_files(
        f"#id_receive-{event.pk}_logger_file", {"name": "shipper.csv", "mimeType": "text/csv", "buffer": csv}
    )
    receiver.locator(f"#desk-receive-{event.pk} button[type=submit]").click()
    expect(receiver.locator(".messagelist")).to_contain_text("Recorded.")
    event.refresh_from_db()
    assert event.received_by == second
    assert IdentityScan.objects.filter(custody_event=event, matched=True).count() == 2


@pytest.mark.urs("URS-414")
def test_scanner_enter_on_the_bedside_form(people: Personas, browser: Browser, live_server: Any) -> None:
    batch = dispatched_batch(people)
    page = page_for(browser, live_server, people.clinician)
    page.goto(f"/admin/delivery-desk/{batch.pk}/")
    bag = page.locator("#id_bedside_scan_scanned_data")
    wristband = page.locator("#id_bedside_scan_patient_subject_code")
    expect(bag).to_be_focused()
    scan(page, scan_of(batch))
    expect(wristband).to_be_focused()
    scan(page, "IGX1-S099")
    expect(page.locator("#id_bedside_scan_patient_subject_code-scan-message")).to_contain_text("Wrong patient")
    expect(wristband).to_have_value("")
    expect(wristband).to_be_focused()
    assert not BedsideCheck.objects.exists()
    assert Deviation.objects.filter(batch=batch, kind="identity", classification="critical").count() == 1
    scan(page, batch.patient.subject_code)
    # Both scans accepted, the form's button is next: the scans are recorded now, signed with the infusion.
    expect(page.locator("#desk-bedside_scan button[type=submit]")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".messagelist")).to_contain_text("Recorded.")
    check = BedsideCheck.objects.get(batch=batch)
    assert (check.checked_by, check.patient_subject_code) == (people.clinician, batch.patient.subject_code)
    assert os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE") == "true"
