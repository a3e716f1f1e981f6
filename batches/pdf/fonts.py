"""The embedded Unicode font of the batch record, and text made safe for it.

Source Sans Pro comes from the pinned ``font-source-sans-pro`` wheel (SIL Open Font License 1.1:
embedding and redistribution allowed), so no system font is needed. It covers Latin-1, Latin
Extended-A (Polish, Czech, Hungarian names) and the symbols a record prints (µ ≥ ≤ × ± ° → ⁶);
the rare character it lacks is written with an equivalent instead of a blank box.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

import font_source_sans_pro
from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_DIR = Path(font_source_sans_pro.__file__).parent / "files"
REGULAR, BOLD, ITALIC, BOLD_ITALIC = "CBSans", "CBSans-Bold", "CBSans-Italic", "CBSans-BoldItalic"
_FILES = {
    REGULAR: "SourceSansPro-Regular.ttf",
    BOLD: "SourceSansPro-Bold.ttf",
    ITALIC: "SourceSansPro-It.ttf",
    BOLD_ITALIC: "SourceSansPro-BoldIt.ttf",
}

# Equivalents for characters the font has no glyph for (Paragraph markup where a glyph is missing).
_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "0123456789+-", strict=True))
_SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉", "0123456789", strict=True))
_EQUIVALENTS = {"→": "»", "←": "«", "⇒": "»", "✓": "[x]", "✔": "[x]", "✗": "[ ]", "\u00a0": " ", "\t": "    "}


@lru_cache(maxsize=1)
def register() -> frozenset[int]:
    """Register the family once per process; return the code points the font can draw."""
    for name, filename in _FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(FONT_DIR / filename)))
    pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=ITALIC, boldItalic=BOLD_ITALIC)
    for bold, italic, name in ((0, 0, REGULAR), (1, 0, BOLD), (0, 1, ITALIC), (1, 1, BOLD_ITALIC)):
        addMapping(REGULAR, bold, italic, name)
    face = pdfmetrics.getFont(REGULAR).face
    return frozenset(face.charToGlyph)


@lru_cache(maxsize=1)
def _plain_characters() -> frozenset[str]:
    """Characters markup() passes through unchanged except for XML escaping."""
    special = set(_SUPERSCRIPTS) | set(_SUBSCRIPTS)
    return frozenset(chr(c) for c in register()) - special


def is_plain(value: str) -> bool:
    """True when ``value`` can be drawn as it is: every glyph present, no super- or subscripts."""
    return _plain_characters().issuperset(value.replace("\n", ""))


def markup(value: str) -> str:
    """``value`` as Paragraph markup: XML-escaped, line breaks kept, missing glyphs replaced."""
    if _plain_characters().issuperset(value.replace("\n", "").replace("\r", "")):
        # The common case: one escape, no per-character work.
        return escape(value).replace("\r", "").replace("\n", "<br/>")
    return markup_each(value)


def markup_each(value: str) -> str:
    """markup() character by character: superscripts, subscripts and missing glyphs need it."""
    glyphs = register()
    out: list[str] = []
    for ch in value:
        if ch in _SUPERSCRIPTS:
            out.append(f"<super>{_SUPERSCRIPTS[ch]}</super>")
        elif ch in _SUBSCRIPTS:
            out.append(f"<sub>{_SUBSCRIPTS[ch]}</sub>")
        elif ch == "\n":
            out.append("<br/>")
        elif ch == "\r":
            continue
        elif ord(ch) in glyphs or ch == " ":
            out.append(escape(ch))
        else:
            replacement = _EQUIVALENTS.get(ch, "?")
            out.append(escape(replacement) if all(ord(c) in glyphs for c in replacement) else "?")
    return "".join(out)


def plain(value: str) -> str:
    """``value`` for drawString (no markup): missing glyphs replaced by '?'."""
    if _plain_characters().issuperset(value):
        return value
    glyphs = register()
    return "".join(ch if ord(ch) in glyphs else "?" for ch in value)
