"""Server text made safe for a terminal: the one place control characters are neutralised.

A server (or whoever sits behind it) chooses the answer text, the model ids and names in the
catalog, and the messages in error bodies. Printed raw, an ESC starts a sequence that can set
the window title (OSC 0), clear the screen (CSI 2J) or write the clipboard (OSC 52); a
zero-width or bidi character makes ``openai/gpt-5-mini\\u200b`` look like the real id. So
every piece of server text passes through ``visible`` before it reaches a terminal, and what
it neutralises is shown, not dropped: ``\\x1b``, ``\\u200b``. Our own styling is added after
(rich), so it stays. Piped output is left byte-exact; the callers decide (they know whether
the output is a terminal).
"""

from __future__ import annotations

import re

# C0 except \t and \n, DEL, C1, and lone surrogates (which could not even be encoded)
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# characters Python calls printable that a terminal draws as nothing or as blank space: the
# Default_Ignorable_Code_Point set of Unicode (combining grapheme joiner, Hangul fillers,
# variation selectors, Mongolian and Khmer invisible marks, tag characters...) and the
# blank Braille pattern. In a name, each of them is a way to copy a real id invisibly.
_BLANK = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
                    "\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0"
                    "\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
                    "\U000e0000-\U000e0fff]")


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: str, *, name: bool = False) -> str:
    """``text`` with nothing a terminal would act on.

    Free text (an answer, a reasoning trace) keeps line breaks (CRLF becomes LF), tabs and
    every printable character, invisible ones like the zero-width joiner of emoji sequences
    included. A ``name`` (a model id or name, a one-line message) must read as what it is:
    every character that is not printable is escaped, so line breaks, zero-width and bidi
    controls (the Cf category), odd spaces and unassigned code points show as ``\\uXXXX``;
    so do the printable characters that draw as nothing (``\\u034f``, ``\\u3164``,
    ``\\ufe0f``...) and spaces at either end (``\\x20``), which would make
    ``openai/gpt-5-mini `` pass for the real id.
    """
    if name:
        if text.isprintable() and not _BLANK.search(text) and text.strip(" ") == text:
            return text
        shown = "".join(ch if ch.isprintable() and not _BLANK.match(ch) else _escape(ch)
                        for ch in text)
        lead = len(shown) - len(shown.lstrip(" "))
        trail = len(shown) - len(shown.rstrip(" ")) if lead < len(shown) else 0
        return "\\x20" * lead + shown[lead:len(shown) - trail] + "\\x20" * trail
    # a CR that ends a line is just the other convention for line ends; a lone CR moves
    # back over the line, so that what follows hides what came before: shown
    return _CONTROLS.sub(lambda m: _escape(m.group()), text.replace("\r\n", "\n"))


def visible_json(text: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with the characters a
    terminal could act on written as ``\\uXXXX`` escapes: the same JSON value, safe to print.
    ``json.dumps`` already escapes C0; this adds DEL, C1 and the invisible formatting
    characters, and those that draw as nothing (they can only occur inside strings, where an
    escape means the same)."""
    if text.isprintable() and not _BLANK.search(text):
        return text
    return "".join(ch if (ch.isprintable() and not _BLANK.match(ch)) or ch == "\n"
                   else _json_escape(ch) for ch in text)


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code > 0xFFFF:  # JSON spells these as a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"
