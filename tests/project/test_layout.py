"""The layout shows the design (issue 9): ``nanogpt/_core/`` decides and does no I/O, the shells
(``nanogpt._sync``, ``nanogpt._async``) move bytes, and the package's own tools (``cli/``,
``batch/``), the ``llm`` plugin and the LangChain chat model (``langchain.py``) use
the SDK through public names and ``nanogpt._contract`` only. Checked on the source
(AST), so an import hidden in a function (or under ``TYPE_CHECKING``) counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import nanogpt._core

CORE = Path(nanogpt._core.__file__).parent
PACKAGE = CORE.parent

# modules that do I/O, wait, or start threads or tasks; and the shells
FORBIDDEN = ("socket", "ssl", "select", "selectors", "threading", "_thread", "asyncio",
             "aiohttp", "http.client", "urllib.request", "subprocess", "time",
             "nanogpt._sync", "nanogpt._async", "nanogpt._slots")

# the exceptions, each with its reason (also given in nanogpt/_core/__init__.py's docstring)
ALLOWED = {
    ("plan.py", "time"): "the default clocks of CallPlan and HostPool (injectable), and the "
                         "wall clock for a Retry-After given as an HTTP date",
    ("stream.py", "time"): "StreamCore's default clock (injectable)",
    ("client.py", "time"): "the age of the cached model lists",
    ("redact.py", "threading"): "a lock around the process-wide record of secrets seen, "
                                "shared by the blocking client's threads; starts no thread",
}


def _imports(path: Path, package: str = "nanogpt._core") -> set[str]:
    """Every module ``path`` (a module of ``package``) imports, absolute, and for
    ``from m import n`` also ``m.n``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _forbidden(module: str) -> str | None:
    for bad in FORBIDDEN:
        if module == bad or module.startswith(bad + "."):
            return bad
    return None


def _violations() -> set[tuple[str, str]]:
    return {(path.name, bad) for path in sorted(CORE.glob("*.py"))
            for bad in map(_forbidden, _imports(path)) if bad is not None}


def test_the_core_imports_no_io_no_threads_and_no_shell() -> None:
    unexpected = sorted(_violations() - set(ALLOWED))
    assert unexpected == [], (
        "nanogpt/_core/ must do no I/O: pass bytes, headers and clock readings in instead "
        f"(or, with a reason, add an exception here and to _core/__init__.py): {unexpected}")


def test_every_allowed_exception_is_still_needed() -> None:
    assert sorted(set(ALLOWED) - _violations()) == []


def test_the_check_sees_relative_and_nested_imports(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("from .._sync import client\nfrom http import client as c\n"
                      "def f():\n    import asyncio\n")
    assert {_forbidden(m) for m in _imports(source)} >= {"nanogpt._sync", "http.client",
                                                          "asyncio"}


def test_the_core_docstring_names_every_core_module_and_exception() -> None:
    doc = nanogpt._core.__doc__ or ""
    modules = sorted(p.stem for p in CORE.glob("*.py") if p.stem != "__init__")
    assert [m for m in modules if f"``{m}``" not in doc] == []
    assert [name for name, _ in ALLOWED if f"``{name[:-3]}``: " not in doc.split(
        "Allowed exceptions")[-1]] == []


# what a tool may import from the SDK besides ``nanogpt`` and ``nanogpt.types``: the named
# contract, and the lazy-import helper (no SDK logic)
TOOLS_MAY_USE = ("nanogpt._contract", "nanogpt._lazy")


def _tool_files(tool: str) -> tuple[list[Path], str]:
    """The files of ``nanogpt.<tool>`` (a package, or one module) and their package."""
    module = PACKAGE / f"{tool}.py"
    if module.exists():
        return [module], "nanogpt"
    return sorted((PACKAGE / tool).glob("*.py")), f"nanogpt.{tool}"


def _private_sdk_imports(tool: str) -> set[tuple[str, str]]:
    """``(file, module)`` for each private SDK module a file of ``nanogpt.<tool>`` imports."""
    found = set()
    paths, package = _tool_files(tool)
    assert paths, f"nanogpt.{tool} has no source file"
    for path in paths:
        for module in _imports(path, package):
            parts = module.split(".")
            private = len(parts) > 1 and parts[0] == "nanogpt" and parts[1].startswith("_")
            if private and not module.startswith(TOOLS_MAY_USE):
                found.add((path.name, module))
    return found


@pytest.mark.parametrize("tool", ["cli", "batch", "llm_plugin", "langchain"])
def test_the_tools_use_public_names_and_the_contract_only(tool: str) -> None:
    assert sorted(_private_sdk_imports(tool)) == [], (
        f"nanogpt.{tool} must import the SDK from nanogpt, nanogpt.types or nanogpt._contract "
        "(add what it needs to _contract), so the SDK's internals can move")


def test_no_module_evaluates_text_as_code() -> None:
    """Annotations are read with ``typing.get_type_hints``; nothing runs ``eval``/``exec``."""
    calls = sorted((str(path.relative_to(PACKAGE)), node.lineno)
                   for path in PACKAGE.rglob("*.py")
                   for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                   if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                   and node.func.id in ("eval", "exec"))
    assert calls == []
