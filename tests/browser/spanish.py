"""The shift again in Spanish: every person chooses Spanish on their Language page and opens again each page
they loaded during the shift; what a Spanish reader would still see in English is reported per page."""

from __future__ import annotations

from tests.browser.shift import LOGIN_PATH, Shift
from tests.spanish_text import english_phrases, visible_text

LANGUAGE_PATH = "/admin/account/language/"


def pages_of_the_shift(shift: Shift) -> dict[str, list[str]]:
    """Each person's pages, in the order they first loaded them (the login page left out)."""
    visited: dict[str, list[str]] = {}
    for entry in shift.loads:
        username, path = entry.split(" ", 1)
        paths = visited.setdefault(username, [])
        if path != LOGIN_PATH and path not in paths:
            paths.append(path)
    return visited


def english_seen_in_spanish(shift: Shift) -> dict[str, list[str]]:
    """``{"person path": [English phrases]}`` for every page of the shift seen again in Spanish; empty when
    every page is Spanish. Each page must also declare its language as Spanish."""
    english: dict[str, list[str]] = {}
    for username, paths in pages_of_the_shift(shift).items():
        page = shift.person(username)
        page.goto(LANGUAGE_PATH)
        page.locator("#language-form input[value='es']").check()
        page.locator("#language-form input[type=submit]").click()
        page.wait_for_load_state()
        for path in paths:
            page.goto(path)
            found = english_phrases(visible_text(page.content()))
            if page.get_attribute("html", "lang") != "es":
                found.append(f"<html lang={page.get_attribute('html', 'lang')!r}>")
            if found:
                english[f"{username} {path}"] = found
    return english
