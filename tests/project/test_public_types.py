"""Honest, public types: every type a public method names can be imported from ``nanogpt`` or
``nanogpt.types``, and a misspelt field is an error to ``mypy --strict`` (unknown fields are
reachable at run time, not typed ``Any``)."""

from __future__ import annotations

import ast
import builtins
import collections.abc
import inspect
import os
import subprocess
import sys
import textwrap
import typing
from pathlib import Path

import pytest
import typing_extensions

import nanogpt
import nanogpt.types

ROOT = Path(__file__).resolve().parents[2]

# what an annotation may name besides the public names: the standard typing vocabulary
_STANDARD = {*dir(builtins), *dir(typing), *dir(collections.abc), *dir(typing_extensions), "os",
             "Decimal"}
_PUBLIC = {name: getattr(nanogpt, name) for name in nanogpt.__all__} | {
    name: getattr(nanogpt.types, name) for name in nanogpt.types.__all__}


_CONSTRUCTED_BY_USERS = ("ClientBase", "NanoGPT", "AsyncNanoGPT")


def _public_classes() -> list[type]:
    """The clients, their namespaces and what they return, with their base classes."""
    client = nanogpt.NanoGPT("k", base_url="http://127.0.0.1:9/api/v1")
    aclient = nanogpt.AsyncNanoGPT("k", base_url="http://127.0.0.1:9/api/v1")
    roots = [type(c) for c in (client, aclient)]
    for c in (client, aclient):
        roots += [type(c.chat), type(c.chat.completions), type(c.models), type(c.files),
                  type(c.batches), type(c.embeddings), type(c.images), type(c.subscription),
                  type(c.messages), type(c.audio), type(c.audio.speech),
                  type(c.audio.speech.with_streaming_response), type(c.audio.transcriptions)]
    roots += [nanogpt.Stream, nanogpt.AsyncStream, nanogpt.ParsedStream,
              nanogpt.AsyncParsedStream, nanogpt.FunctionTool, nanogpt.types.SpeechStream,
              nanogpt.types.AsyncSpeechStream, nanogpt.types.SpeechAudio,
              nanogpt.types.AsyncSpeechOpening]
    return [k for root in roots for k in root.__mro__ if k.__module__.startswith("nanogpt")]


def _is_public(name: str) -> bool:
    return not name.startswith("_") or (name.startswith("__") and name.endswith("__"))


def _annotation_names(cls: type) -> list[tuple[str, str, str]]:
    """(method, name, module) for every name in the annotations of the public methods of
    ``cls`` (overloads included: their ``**params`` name ``ChatParams``)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    out = []
    class_def = tree.body[0]
    assert isinstance(class_def, ast.ClassDef)
    for node in class_def.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                or not _is_public(node.name):
            continue
        if node.name == "__init__" and cls.__name__ not in _CONSTRUCTED_BY_USERS:
            continue  # made by the client, never by the user: its arguments are internal
        args = node.args
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        annotations = [a.annotation for a in every if a is not None] + [node.returns]
        for ann in annotations:
            if ann is None:
                continue
            for name in _names(ann):
                out.append((f"{cls.__qualname__}.{node.name}", name, cls.__module__))
    return out


def _names(annotation: ast.expr) -> list[str]:
    """The names an annotation uses, those in quoted parts (forward references) too; the
    values of a ``Literal[...]`` are values, not names."""
    if isinstance(annotation, ast.Subscript) and isinstance(annotation.value, ast.Name) \
            and annotation.value.id == "Literal":
        return ["Literal"]
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return _names(ast.parse(annotation.value, mode="eval").body)
    if isinstance(annotation, ast.Name):
        return [annotation.id]
    return [name for child in ast.iter_child_nodes(annotation) if isinstance(child, ast.expr)
            for name in _names(child)]


def test_every_annotated_type_is_public() -> None:
    missing = set()
    for cls in _public_classes():
        for where, name, module in _annotation_names(cls):
            if name in _STANDARD and name not in _PUBLIC:
                continue
            if name not in _PUBLIC:
                missing.add(f"{where}: {name}")
                continue
            defined = vars(sys.modules[module]).get(name)  # absent: a TYPE_CHECKING import
            assert defined is None or defined is _PUBLIC[name], f"{where}: {name}"
    assert not missing, sorted(missing)


def test_chat_params_name_only_public_types() -> None:
    hints = typing.get_type_hints(nanogpt.types.ChatParams)
    assert "reasoning_effort" in hints and "temperature" in hints


_TYPO = """\
import nanogpt

def first(r: nanogpt.ChatCompletion) -> object:
    return r.choises

def tokens(u: nanogpt.Usage) -> object:
    return u.promt_tokens

def fine(r: nanogpt.types.ChatCompletion) -> str | None:
    return r.choices[0].message.content if r.usage and r.usage.prompt_tokens else r.raw["x"]
"""


def test_mypy_reports_a_misspelt_field(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    snippet = tmp_path / "typo.py"
    snippet.write_text(_TYPO)
    env = {**os.environ, "MYPYPATH": str(ROOT / "src")}  # this tree's nanogpt, not an install
    r = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
                        str(snippet)], cwd=ROOT, env=env, capture_output=True, text=True)
    errors = [line for line in r.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 2, r.stdout + r.stderr
    assert '"ChatCompletion" has no attribute "choises"' in errors[0]
    assert '"Usage" has no attribute "promt_tokens"' in errors[1]


def test_unknown_fields_stay_reachable_at_run_time() -> None:
    from nanogpt._core.types import ChatCompletion, Usage

    r = ChatCompletion()
    r.__dict__["_raw_dict"] = {"choices": [], "provider": "x"}
    assert r.provider == "x" and r.raw["provider"] == "x" and r.to_dict()["provider"] == "x"
    assert Usage({"search_queries": 2}).search_queries == 2
    with pytest.raises(AttributeError, match="choises"):
        r.choises  # noqa: B018
