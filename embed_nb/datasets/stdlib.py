"""Docstrings of the public standard library, parsed from its sources with :mod:`ast`."""

from __future__ import annotations

import ast
import functools
import gc
import inspect
import os
import sysconfig
import warnings
from collections.abc import Iterator
from dataclasses import astuple, fields
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

from .entry import DocEntry

if TYPE_CHECKING:
    import pandas as pd

# Folders that hold test suites, demos or third-party code rather than documented API.
_SKIP_DIRS = frozenset(
    {"test", "tests", "idle_test", "site-packages", "dist-packages", "turtledemo", "pydoc_data"}
)

# Statements whose bodies still run at module or class level, so definitions inside them
# (``if sys.platform == ...: def f()``, ``try: ... except ImportError: def f()``) are real API.
_BLOCKS = (ast.If, ast.Try, ast.TryStar, ast.With)

_DefNode = ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef


def _is_public(name: str) -> bool:
    # Private and dunder names alike: dunder docstrings are mostly boilerplate
    # ("Return repr(self).") that would crowd every plot with one cluster.
    return not name.startswith("_")


def _stdlib_files(root: Path) -> list[tuple[tuple[str, ...], Path]]:
    """Public importable ``.py`` files under ``root``, as (module parts, path), sorted by path."""
    found: list[tuple[tuple[str, ...], Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        parts = here.relative_to(root).parts
        # Descend only into public packages: this also drops lib-dynload, config-3.x-...,
        # __pycache__ and site-packages, none of which is an importable package name.
        dirnames[:] = [
            d
            for d in dirnames
            if d.isidentifier()
            and _is_public(d)
            and d not in _SKIP_DIRS
            and (here / d / "__init__.py").is_file()
        ]
        for filename in filenames:
            stem, ext = os.path.splitext(filename)
            if ext != ".py" or not stem.isidentifier():
                continue
            if stem == "__init__":
                if not parts:  # a stray __init__.py at the stdlib root is not a module
                    continue
                module_parts = parts
            elif _is_public(stem) and not stem.startswith("test_"):
                module_parts = (*parts, stem)
            else:
                continue
            found.append((module_parts, here / filename))
    # Sort by path, not by walk order, which depends on the file system.
    found.sort(key=lambda item: item[1].relative_to(root).parts)
    return found


def _walk_defs(body: list[ast.stmt]) -> Iterator[_DefNode]:
    """Definitions in a module or class body, in source order, including conditional ones."""
    for node in body:
        if isinstance(node, _DefNode):
            yield node
        elif isinstance(node, _BLOCKS):
            yield from _walk_defs(node.body)
            if isinstance(node, ast.If | ast.Try | ast.TryStar):
                yield from _walk_defs(node.orelse)
            if isinstance(node, ast.Try | ast.TryStar):
                for handler in node.handlers:
                    yield from _walk_defs(handler.body)
                yield from _walk_defs(node.finalbody)


def _docstring(node: ast.Module | _DefNode) -> str:
    raw = ast.get_docstring(node, clean=False)
    return inspect.cleandoc(raw).strip() if raw else ""


def _module_entries(tree: ast.Module, module: str) -> Iterator[DocEntry]:
    """Entries for one parsed module: the module itself, then its public definitions."""
    package = module.split(".", 1)[0]
    text = _docstring(tree)
    if text:
        yield DocEntry(module, "module", module, package, text)

    def visit(body: list[ast.stmt], prefix: str, in_class: bool) -> Iterator[DocEntry]:
        for node in _walk_defs(body):
            if not _is_public(node.name):
                continue
            name = f"{prefix}.{node.name}"
            text = _docstring(node)
            if isinstance(node, ast.ClassDef):
                if text:
                    yield DocEntry(name, "class", module, package, text)
                # Nested classes and methods are API; functions nested in functions are not.
                yield from visit(node.body, name, in_class=True)
            elif text:
                yield DocEntry(name, "method" if in_class else "function", module, package, text)

    yield from visit(tree.body, module, in_class=False)


@functools.lru_cache(maxsize=4)
def _stdlib_entries(root: str) -> tuple[DocEntry, ...]:
    # Parsing makes millions of short-lived AST nodes, and letting the cycle collector sweep
    # the heap (large in a busy kernel) every 700 of them costs a quarter of the time
    # even in a bare interpreter. Nothing made here forms cycles that must be reclaimed early.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return tuple(_parse_stdlib(Path(root)))
    finally:
        if gc_was_enabled:
            gc.enable()


def _parse_stdlib(root: Path) -> Iterator[DocEntry]:
    seen_names: set[str] = set()
    seen_texts: set[str] = set()
    with warnings.catch_warnings():
        # Old sources trigger SyntaxWarning/DeprecationWarning (invalid escapes) when parsed.
        warnings.simplefilter("ignore")
        for module_parts, path in _stdlib_files(root):
            try:
                # Bytes, so that ast honours each file's own coding cookie.
                tree = ast.parse(path.read_bytes(), filename=str(path))
            except (OSError, SyntaxError, ValueError, RecursionError):
                continue  # unreadable or Python-2 leftovers: not part of the usable stdlib
            for entry in _module_entries(tree, ".".join(module_parts)):
                # The first definition wins (platform branches, @overload stubs); identical
                # texts (copied docstrings of overriding methods) would sit on one point.
                if entry.name in seen_names:
                    continue
                seen_names.add(entry.name)
                if entry.text not in seen_texts:
                    seen_texts.add(entry.text)
                    yield entry


def _stdlib_root() -> str:
    return sysconfig.get_paths()["stdlib"]


@overload
def stdlib_docs(*, as_frame: Literal[False] = ...) -> list[DocEntry]: ...


@overload
def stdlib_docs(*, as_frame: Literal[True]) -> pd.DataFrame: ...


@overload
def stdlib_docs(*, as_frame: bool) -> list[DocEntry] | pd.DataFrame: ...


def stdlib_docs(*, as_frame: bool = False) -> list[DocEntry] | pd.DataFrame:
    """Docstrings of the public Python standard library.

    The ``.py`` sources under ``sysconfig.get_paths()["stdlib"]`` are parsed with :mod:`ast`;
    nothing is imported. Kept: modules, classes, functions and methods with a non-empty
    docstring, including definitions inside module-level ``if``/``try``/``with`` blocks.
    Left out: test suites (``test``, ``tests``, ``idle_test``, ``test_*.py``), ``turtledemo``,
    ``pydoc_data`` (see :func:`pydoc_topics`), site-packages, C extension modules (they have no
    source), every module, package or object whose name starts with an underscore (dunder
    methods included), functions nested in functions, and any entry whose text repeats an
    earlier one.

    The order is deterministic: by file path, then source order. The first call parses the
    library (about two seconds); later calls are served from a per-process cache.

    Args:
        as_frame: Return a :class:`pandas.DataFrame` with columns ``name``, ``kind``,
            ``module``, ``package`` and ``text`` instead of a list. Needs pandas.

    Returns:
        A new list of :class:`DocEntry` (about 6,000 on CPython 3.11), or a DataFrame.

    Raises:
        ImportError: ``as_frame=True`` and pandas is not installed.
    """
    entries = list(_stdlib_entries(_stdlib_root()))
    return _to_frame(entries) if as_frame else entries


def _to_frame(entries: list[DocEntry]) -> pd.DataFrame:
    try:
        import pandas as pd
    except ImportError as exc:  # pandas is optional: only the frame form needs it
        raise ImportError(
            "as_frame=True needs pandas, which is not installed: run `pip install pandas`, "
            "or call without as_frame to get a list of DocEntry"
        ) from exc
    columns = [f.name for f in fields(DocEntry)]
    return pd.DataFrame([astuple(e) for e in entries], columns=columns)
