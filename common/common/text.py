"""Rules for human-readable text that other people will see (product and category names, user names).

Bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069) reorder what follows them
("Trojan Source" spoofing: `Lamp<RLO>gnp.exe`), zero-width characters (U+200B-U+200D, U+2060,
U+FEFF) make two different names look identical, and other control characters (Unicode category
Cc, except tab and newline in long text) have no business in a name.
"""

from __future__ import annotations

import unicodedata

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")


def display_text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why `value` may not be shown as a name (or, with multiline, as a description), or None."""
    allowed_controls = {"\n", "\r", "\t"} if multiline else set()
    for char in value:
        if char in BIDI_CONTROLS:
            return "Must not contain bidirectional control characters."
        if char in ZERO_WIDTH:
            return "Must not contain zero-width characters."
        if unicodedata.category(char) == "Cc" and char not in allowed_controls:
            return "Must not contain control characters."
    return None
