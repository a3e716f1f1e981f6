"""The browser suite: Debian's chromium, driven by Playwright, against the app served by a live server.

The server is pytest-django's ``live_server`` (Django's own server in a thread of this process, on the
test database, committed data only). Every person of the shift has a browser context of their own, as
people at their own workstations do; the ``Shift`` counts what they cost: page loads (documents
loaded in a tab) and password entries (a form posted with a password, sign-in apart).

The browser itself is one for the whole session (``tests/conftest.py``: every browser test shares it).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.browser.shift import SCREENSHOTS, Shift


@pytest.fixture
def shift(browser: Browser, live_server: object, transactional_db: None) -> Iterator[Shift]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    walk = Shift(browser=browser, base_url=str(live_server))
    yield walk
    walk.close()
