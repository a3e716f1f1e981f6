"""What a Spanish reader would see in English: the visible text of a page (no scripts, styles, attribute
values or recorded data) against the interface's English phrases (a list of the main pages' words, and every
entry of the Spanish catalogue of three words or more)."""

from __future__ import annotations

import re
from functools import cache
from html.parser import HTMLParser

import polib

from scripts import messages

CATALOGUE = messages.LOCALE / "es" / "LC_MESSAGES" / "django.po"
# Classes of elements holding recorded data (names, values, reasons typed by people): never translated.
RECORDED = {"audit-changes", "audit-reason", "recorded"}


class VisibleText(HTMLParser):
    """The text a reader sees of the interface (no scripts, styles, attribute values or recorded data)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._open: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "input", "img", "meta", "link", "hr", "col"):
            return
        classes = set((dict(attrs).get("class") or "").split())
        self._open.append(tag in ("script", "style") or bool(classes & RECORDED))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("br", "input", "img", "meta", "link", "hr", "col"):
            return
        if self._open:
            self._open.pop()

    @property
    def _hidden(self) -> bool:
        return any(self._open)

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


# Phrases of the main pages in English: none may show to a Spanish user.
ENGLISH = (
    "What is needed next",
    "Electronic signatures",
    "State history",
    "Signed in as",
    "Performed by",
    "Verified by",
    "Record and sign",
    "Needs a decision",
    "Manufacturing steps",
    "QC results against the specification",
    "Custody",
    "Identity scans",
    "Audit trail",
    "Delivery desk",
    "Home",
    "Save",
    "Log out",
    "Change password",
    "Quarantine",
    "Released",
    "Password",
    "Sample code",
    "Taken at",
    "Late entry reason",
    "Process definition",
    "Body weight",
    "Subject",
    "not verified",
    "Field: old",
    "Who",
    "Why",
)


PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sdr]|%[sd]|%%")


@cache
def _catalogue_phrases() -> tuple[str, ...]:
    """Each translated entry's text of three words or more; an entry with placeholders gives its fixed pieces
    (the words between the placeholders) of three words or more."""
    phrases: list[str] = []
    for entry in polib.pofile(str(CATALOGUE)):
        if entry.msgid_plural or entry.msgstr == entry.msgid:
            continue
        for piece in PLACEHOLDER.split(entry.msgid):
            piece = piece.strip(" .,;:()")
            if len(piece.split()) >= 3:
                phrases.append(piece)
    return tuple(dict.fromkeys(phrases))


@cache
def _phrase_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Each phrase with its whole-word pattern, compiled once: there are more than the ``re`` module caches."""
    return tuple((p, re.compile(rf"(?<!\w){re.escape(p)}(?!\w)")) for p in (*ENGLISH, *_catalogue_phrases()))


def english_phrases(text: str) -> list[str]:
    """English phrases in ``text``: the list above, and every catalogue entry of three words or more."""
    return [phrase for phrase, pattern in _phrase_patterns() if phrase in text and pattern.search(text)]
