"""The repository explains itself: every document it points to is in it.

A maintainer or an inspector following a reference (a link in docs/ or README.md, or a
"docs/<file>.md §<section>" in a comment) must find the file and the section; and nothing may
point to planning notes that were never part of the repository. No database is needed.
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Written as a pattern so that this file does not match itself.
OUTSIDE_NOTES = re.compile(r"\b(?:DESIGN|DOMAIN)\.md\b")
MARKDOWN_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
SECTION_REFERENCE = re.compile(r"\bdocs/([\w.-]+\.md) §")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def tracked_files() -> list[Path]:
    """The files under version control; outside a git checkout, the source tree without local state."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        local = {".git", ".venv", "var", "__pycache__", "node_modules"}
        return [p for p in ROOT.rglob("*") if p.is_file() and not local & set(p.relative_to(ROOT).parts)]
    return [ROOT / name for name in listed.decode().split("\0") if name]


def text_of(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
        return None


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def slug(title: str) -> str:
    """The anchor a Markdown renderer (GitHub's rule) gives a heading."""
    plain = re.sub(r"[`*_]", "", unicodedata.normalize("NFC", title)).strip().lower()
    plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", plain)
    return re.sub(r"[^\w\- ]", "", plain).replace(" ", "-")


@cache
def headings(path: Path) -> tuple[str, ...]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return tuple(re.sub(r"[`*]", "", title) for title in HEADING.findall(text))


def section_exists(path: Path, reference: str) -> bool:
    """A "§" reference names a heading of the file, by its title or by its number ("§5" for "5. ...")."""
    for title in headings(path):
        # The whole title, or its words before a parenthesis or a colon, or its number.
        names = {title.lower(), re.split(r"\s*[(:]", title)[0].lower()}
        number = re.match(r"^(\w+)\.\s", title)
        if number:
            names.add(number.group(1).lower())
        for name in names:
            if reference.lower().startswith(name) and not reference[len(name) : len(name) + 1].isalnum():
                return True
    return False


def test_no_file_mentions_notes_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in tracked_files()
        if (text := text_of(path)) is not None
        for number, line in enumerate(text.splitlines(), start=1)
        if OUTSIDE_NOTES.search(line)
    ]
    assert not offenders, f"Cite a regulation or a file under docs/ instead: {', '.join(offenders)}"


@pytest.mark.parametrize("document", documents(), ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_of_the_docs_lead_to_existing_files_and_headings(document: Path) -> None:
    broken: list[str] = []
    for target in MARKDOWN_LINK.findall(FENCE.sub("", document.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("/"):
            continue  # a web address or a URL path of the running application, not a file
        name, _, anchor = target.partition("#")
        linked = (document.parent / name).resolve() if name else document
        if not linked.is_file():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in {slug(title) for title in headings(linked)}:
            broken.append(f"{target}: no heading with the anchor #{anchor}")
    assert not broken, f"{document.relative_to(ROOT)} has broken links: {'; '.join(broken)}"


def test_section_references_name_an_existing_file_and_heading() -> None:
    broken: list[str] = []
    for path in tracked_files():
        text = text_of(path)
        if text is None:
            continue
        for match in SECTION_REFERENCE.finditer(text):
            where = f"{path.relative_to(ROOT)}: docs/{match.group(1)}"
            target = ROOT / "docs" / match.group(1)
            if not target.is_file():
                broken.append(f"{where} does not exist")
            elif not section_exists(target, text[match.end() : match.end() + 80]):
                broken.append(f"{where} has no section '{text[match.end() :].splitlines()[0]}'")
    assert not broken, "; ".join(broken)


def test_slugs_follow_the_markdown_rule() -> None:
    assert slug("Check character (ISO/IEC 7064 MOD 37-2)") == "check-character-isoiec-7064-mod-37-2"
    assert slug("D1. PostgreSQL only, embedded when no server is configured") == (
        "d1-postgresql-only-embedded-when-no-server-is-configured"
    )
    assert slug("Admin site and state-change actions") == "admin-site-and-state-change-actions"
