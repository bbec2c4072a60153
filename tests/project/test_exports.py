"""The public names are listed once for Python (``_EXPORTS`` in ``nanogpt/__init__.py``, from
which ``__all__``, ``dir()`` and the lazy lookup are made) and once for type checkers (the
``TYPE_CHECKING`` imports, which they need since they run no ``__getattr__``). These tests keep
the two in step; and a private module exports only what it defines, so each name has one home."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import nanogpt
import nanogpt.types

INIT = Path(nanogpt.__file__)


def _type_checking_imports() -> dict[str, str]:
    """name -> module of every ``from <module> import X as X`` under ``if TYPE_CHECKING``."""
    tree = ast.parse(INIT.read_text())
    blocks = [node for node in tree.body if isinstance(node, ast.If)
              and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"]
    assert len(blocks) == 1
    out: dict[str, str] = {}
    for stmt in blocks[0].body:
        assert isinstance(stmt, ast.ImportFrom), ast.dump(stmt)
        for alias in stmt.names:
            assert alias.asname == alias.name, f"{alias.name}: 'as' marks the re-export"
            assert alias.name not in out
            out[alias.name] = "." * stmt.level + (stmt.module or "")
    return out


def test_type_checkers_see_the_names_python_exports() -> None:
    assert _type_checking_imports() == nanogpt._EXPORTS


def test_all_and_dir_come_from_the_table() -> None:
    assert sorted(nanogpt.__all__) == sorted([*nanogpt._EXPORTS, "__version__"])
    assert dir(nanogpt) == sorted(nanogpt.__all__)


def test_each_name_is_what_its_module_defines() -> None:
    for name, module in nanogpt._EXPORTS.items():
        value = getattr(importlib.import_module(module, "nanogpt"), name)
        assert getattr(nanogpt, name) is value, name


def test_types_in_nanogpt_are_those_of_nanogpt_types() -> None:
    for name in nanogpt.__all__:
        if name in nanogpt.types.__all__:
            assert getattr(nanogpt, name) is getattr(nanogpt.types, name)
    for name in nanogpt.types.__all__:
        assert getattr(nanogpt.types, name) is not None


# the modules whose job is to gather names from others: the public packages, the public types,
# and the tools' contract
GATHERING = {"__init__.py", "types.py", "_contract.py"}


def _defined(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _exported(tree: ast.Module) -> list[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            assert isinstance(node.value, (ast.List, ast.Tuple))
            return [e.value for e in node.value.elts if isinstance(e, ast.Constant)]
    return []


def test_a_private_module_exports_only_what_it_defines() -> None:
    """A name in ``__all__`` that the module only imports is a second home for it (a leftover
    of a move): importers then reach it through either, and the next move breaks one."""
    second_homes = []
    for path in sorted(INIT.parent.rglob("*.py")):
        if path.name in GATHERING:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        second_homes += [f"{path.relative_to(INIT.parent)}: {name}"
                         for name in _exported(tree) if name not in _defined(tree)]
    assert second_homes == []
