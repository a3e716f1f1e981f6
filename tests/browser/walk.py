"""What people do at their screens during the walk (tests/browser/test_shift.py): type times, find fields by
their labels, sign a form, open a queue's item, scan the bench's barcodes, print a bag's label."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime

from django.utils import timezone
from playwright.sync_api import Page, expect

from batches.models import Batch, Label
from tests.browser.shift import axe, blocking
from tests.factories import PASSWORD


def local(moment: datetime) -> str:
    """A datetime-local input's value."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M:%S")


def field_label(text: str) -> re.Pattern[str]:
    """A form field's label exactly (Django's labels end in a colon)."""
    return re.compile(rf"^{re.escape(text)}:?$")


def sign(form: object, button: str) -> None:
    """Type the password into the form and press its signing button (one password entry)."""
    # The signer's own password field (a form may also offer a second person's override password).
    form.locator("input[type=password]:not([data-override])").fill(PASSWORD)  # type: ignore[attr-defined]
    form.get_by_role("button", name=button).click()  # type: ignore[attr-defined]


def no_blocking_violations(page: Page, where: str) -> None:
    found = blocking(axe(page))
    assert not found, f"axe-core on {where}:\n" + "\n".join(found)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def expect_message(page: Page, text: str) -> None:
    expect(page.locator("ul.messagelist")).to_contain_text(text)


def open_queue_item(page: Page, queue: str, item: str) -> None:
    """From the home page: the queue's count and the item under it, which opens exactly that item."""
    link = page.locator("#role-home li", has=page.get_by_role("link", name=queue, exact=True))
    link.get_by_role("link", name=item).first.click()


def fill_scans(form: object, codes: dict[str, list[str]]) -> None:
    """Scan the lots and equipment on the bench into the step's form (one barcode a line)."""
    form.get_by_label(field_label("Material lots (scan each)")).fill("\n".join(codes["lots"]))  # type: ignore[attr-defined]
    form.get_by_label(field_label("Equipment (scan each)")).fill("\n".join(codes["equipment"]))  # type: ignore[attr-defined]


def print_label(page: Page, batch: Batch, bag: str) -> str:
    """On the batch page (the desk's form): print the bag's label; returns the label's id (read off the label)."""
    printing = page.locator("#desk-label_print")
    printing.get_by_label("Bag").select_option(bag)
    printing.get_by_label("Printer").fill("ZD621-LAB-01")
    printing.get_by_label("Reason").fill("labels for the bag")
    with page.expect_download() as printed:  # the labels go to the printer (a ZPL file), the page stays
        printing.get_by_role("button", name="Record").click()
    assert printed.value.suggested_filename.endswith(".zpl"), printed.value.suggested_filename
    return Label.objects.get(batch=batch, bag=bag, voided=False).label_id
