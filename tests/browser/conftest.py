"""The browser suite: Debian's chromium, driven by Playwright, against the app served by a live server.

The server is pytest-django's ``live_server`` (Django's own server in a thread of this process, on the
test database, committed data only). Every person of the shift has a browser context of their own, as
people at their own workstations do; the ``Shift`` counts what they cost: page loads (documents
loaded in a tab) and password entries (a form posted with a password, sign-in apart).

Under ``CI=true`` a missing browser fails the suite; elsewhere the suite is skipped with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Playwright's synchronous API runs an event loop in this thread; the ORM calls of the test itself are
# still synchronous (Django refuses them in a thread with a running loop unless told).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.browser.shift import CHROMIUM, SCREENSHOTS, Shift
from tests.conftest import CI


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)."
        if CI:
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def shift(browser: Browser, live_server: object, transactional_db: None) -> Iterator[Shift]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    walk = Shift(browser=browser, base_url=str(live_server))
    yield walk
    walk.close()
