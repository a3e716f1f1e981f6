"""The browser suite: Debian's chromium, driven by Playwright, against the app served by a live server.

The server is pytest-django's ``live_server`` (Django's own server in a thread of this process, on the
test database, committed data only). Every person of the shift has a browser context of their own, as
people at their own workstations do; the ``Shift`` counts what they cost: page loads (documents
loaded in a tab) and password entries (a form posted with a password, sign-in apart).

The browser itself is one for the package's tests (``playwright_driver`` and ``browser`` below).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.browser.shift import SCREENSHOTS, Shift

# Under CI a missing browser fails the suite instead of skipping it.
CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture
def shift(browser: Browser, live_server: object, transactional_db: None) -> Iterator[Shift]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    walk = Shift(browser=browser, base_url=str(live_server))
    yield walk
    walk.close()


@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Any]:
    """Playwright for the browser tests of this package: its synchronous API allows one driver per thread,
    so they share this one. It runs an event loop in the test thread, so it is stopped when the package
    ends: the PDF signer of later tests runs its own loop (asyncio.run). Under ``CI=true`` a missing
    browser fails; elsewhere the test is skipped with the reason."""
    # Playwright's synchronous API runs an event loop in this thread; the ORM calls of the tests themselves
    # are still synchronous (Django refuses them in a thread with a running loop unless told).
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    from tests.browser.shift import CHROMIUM

    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)."
        if CI:
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright_driver: Any) -> Iterator[Any]:
    """Debian's chromium, headless, shared by the browser tests of this package."""
    from tests.browser.shift import CHROMIUM

    chromium = playwright_driver.chromium.launch(executable_path=CHROMIUM, headless=True)
    yield chromium
    chromium.close()
