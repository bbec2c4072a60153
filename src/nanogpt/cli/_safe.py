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


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, name: bool = False) -> str:
    """``text`` with nothing a terminal would act on.

    Free text (an answer, a reasoning trace) keeps line breaks, tabs and every printable
    character, invisible ones like the zero-width joiner of emoji sequences included. A
    ``name`` (a model id or name, a one-line message) must read as what it is: every
    character that is not printable is escaped, so line breaks, zero-width and bidi controls
    (the Cf category), odd spaces and unassigned code points show as ``\\uXXXX``.
    """
    if name:
        if text.isprintable():
            return text
        return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)
    return _CONTROLS.sub(lambda m: _escape(m.group()), text)


def visible_json(text: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with the characters a
    terminal could act on written as ``\\uXXXX`` escapes: the same JSON value, safe to print.
    ``json.dumps`` already escapes C0; this adds DEL, C1 and the invisible formatting
    characters (they can only occur inside strings, where an escape means the same)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == "\n" else _json_escape(ch) for ch in text)


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code > 0xFFFF:  # JSON spells these as a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"
