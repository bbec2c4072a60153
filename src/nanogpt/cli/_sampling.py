"""The sampling flags: ONE table, from which the chat options (``--top-p``), the config
settings (``nanogpt config set top_p``), the ``/set`` names of a conversation and the
parameters sent are all made.

Each row names a chat parameter of the SDK and says, in the user's words, what it does. Its
type (``float``, ``int``, or the values it takes) and its check come from the SDK
(``nanogpt._contract``), so offering one more sampling parameter on the command line is one
row here; a row the SDK does not know fails at import, in every test.
"""

from __future__ import annotations

from typing import Any

import click

from .._contract import parameter_kind

# SDK parameter -> the flag's help, in the order the help lists them
SAMPLING: dict[str, str] = {
    "temperature": "0 to 2.",
    "top_p": "0 to 1.",
    "top_k": "-1 (off) or >= 1.",
    "min_p": "0 to 1.",
    "repetition_penalty": "> 1 discourages repeats.",
    "frequency_penalty": "-2 to 2.",
    "presence_penalty": "-2 to 2.",
    "max_tokens": "Upper bound on the answer's tokens.",
    "reasoning_effort": "How hard reasoning models think.",
}


def flag_name(param: str) -> str:
    """``top_p`` -> ``--top-p``."""
    return "--" + param.replace("_", "-")


def _click_type(param: str) -> Any:
    kind = parameter_kind(param)
    return click.Choice(kind) if isinstance(kind, tuple) else kind


def sampling_options(f: Any) -> Any:
    """Decorate a command with one option per row of ``SAMPLING``."""
    for param in reversed(SAMPLING):
        f = click.option(flag_name(param), param, type=_click_type(param),
                         help=SAMPLING[param])(f)
    return f


def from_options(opts: dict[str, Any]) -> dict[str, Any]:
    """The sampling values a command was given (flags left out are not there)."""
    return {k: opts[k] for k in SAMPLING if opts.get(k) is not None}
