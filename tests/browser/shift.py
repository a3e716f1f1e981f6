"""People at their workstations: one browser context each, signed in through the login page, counted.

``Shift.person(username)`` opens a context and signs in by typing; every document loaded in any tab
counts as a page load, and every form posted with a non-empty password counts as a password entry
(sign-ins counted apart). ``axe`` runs the vendored axe-core on the page and returns its violations.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Browser, BrowserContext, Page, Request

from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CELLBATCH_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "var" / "screenshots"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
LOGIN_PATH = "/admin/login/"
# axe-core's impact levels that fail the suite.
BLOCKING_IMPACTS = frozenset({"serious", "critical"})
# A desktop workstation; the delivery desk is also walked at a tablet's width.
DESKTOP = {"width": 1280, "height": 900}
TABLET = {"width": 800, "height": 1100}


@dataclass
class Shift:
    """The people of one shift and what the shift cost them."""

    browser: Browser
    base_url: str
    page_loads: int = 0
    password_entries: int = 0
    sign_ins: int = 0
    loads_by_person: Counter[str] = field(default_factory=Counter)
    signatures_by_person: Counter[str] = field(default_factory=Counter)
    contexts: list[BrowserContext] = field(default_factory=list)
    loads: list[str] = field(default_factory=list)  # "person path", in order
    signing_ms: list[float] = field(default_factory=list)  # each signing submit, request to response end

    def person(self, username: str, *, viewport: dict[str, int] | None = None) -> Page:
        """A new workstation for ``username``, signed in through the login page."""
        context = self.browser.new_context(
            base_url=self.base_url,
            viewport=viewport or DESKTOP,  # type: ignore[arg-type]
            locale="en-GB",
            timezone_id="Europe/Madrid",
            bypass_csp=True,  # only so that axe-core can be injected; the app's own pages never need it
        )
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("load", lambda loaded: self._loaded(username, loaded.url))
        page.on("request", lambda request: self._posted(username, request))
        page.on("requestfinished", self._timed)
        page.goto(LOGIN_PATH)
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()
        if LOGIN_PATH in page.url:
            raise AssertionError(f"{username} could not sign in: {page.inner_text('#content')[:300]}")
        return page

    def _loaded(self, username: str, url: str) -> None:
        self.loads.append(f"{username} {urlparse(url).path}")
        self.page_loads += 1
        self.loads_by_person[username] += 1

    def _posted(self, username: str, request: Request) -> None:
        if request.method != "POST" or not request.is_navigation_request() or not signed_with_password(request):
            return
        if urlparse(request.url).path == LOGIN_PATH:
            self.sign_ins += 1
        else:
            self.password_entries += 1
            self.signatures_by_person[username] += 1

    def _timed(self, request: Request) -> None:
        if self._signs(request):
            self.signing_ms.append(request.timing["responseEnd"])

    @staticmethod
    def _signs(request: Request) -> bool:
        if request.method != "POST" or not request.is_navigation_request():
            return False
        return signed_with_password(request) and urlparse(request.url).path != LOGIN_PATH

    def report(self) -> str:
        people = ", ".join(f"{name} {count}" for name, count in sorted(self.loads_by_person.items()))
        signers = ", ".join(f"{name} {count}" for name, count in sorted(self.signatures_by_person.items()))
        timing = ""
        if self.signing_ms:
            ordered = sorted(self.signing_ms)
            timing = f"; signing submits: median {ordered[len(ordered) // 2]:.0f} ms, slowest {ordered[-1]:.0f} ms"
        return (
            f"page loads: {self.page_loads} ({people}); password entries: {self.password_entries} "
            f"({signers}); sign-ins: {self.sign_ins}{timing}"
        )

    def close(self) -> None:
        """Close every workstation, keeping a picture of where each one stopped (var/screenshots/last-*)."""
        for number, context in enumerate(self.contexts, start=1):
            for page in context.pages:
                page.screenshot(path=str(SCREENSHOTS / f"last-{number}.png"), full_page=True)
            context.close()


# A multipart form's (a form with a file field: the delivery desk) password part, when it is not empty.
MULTIPART_PASSWORD = re.compile(rb'name="password"\r\n\r\n([^\r]+)\r\n')


def signed_with_password(request: Request) -> bool:
    """Whether a posted form carries a non-empty ``password`` (url-encoded or multipart)."""
    if "multipart/form-data" in (request.headers.get("content-type") or ""):
        found = MULTIPART_PASSWORD.search(request.post_data_buffer or b"")
        return bool(found and found.group(1).strip())
    form = parse_qs(request.post_data or "")
    return any(value.strip() for value in form.get("password", []))


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Save the page under var/screenshots/<name>.png (the user guide copies some of them)."""
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (WCAG 2.1 A and AA rules)."""
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})"
    )
    return list(result["violations"])


def blocking(violations: list[dict[str, Any]]) -> list[str]:
    """The serious and critical violations, each with the elements it names."""
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {', '.join(str(n['target']) for n in v['nodes'][:5])}"
        for v in violations
        if v.get("impact") in BLOCKING_IMPACTS
    ]
