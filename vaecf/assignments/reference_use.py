"""Find answers that call the package's own implementation instead of writing one.

A static reading of the submission's code cells (never executed here): every import and
simple assignment is followed, so ``from vaecf.metrics import ndcg_at_k``,
``vaecf.metrics.ndcg_at_k(...)``, ``from vaecf import metrics as m; m.ndcg_at_k`` or
``f = vaecf.metrics.ndcg_at_k`` in any cell all count as using the reference of the
question that checks ``ndcg_at_k``. A name is resolved to the package's real object, so
re-exports (``vaecf.assignments.checks.ndcg_at_k`` is the same function) count too.
Code that reaches objects in ways a static reading cannot follow (``exec``, ``eval``,
``importlib``, ``__import__``, ``sys.modules``, ``getattr`` with a computed name,
``__globals__``, ...) counts as reference use of every question: the teacher can look at it
and regrade with ``--allow-reference``. It is a deterrent that catches the plain cases,
not a proof: a determined student can hide a call from any static reading.
"""
from __future__ import annotations

import ast
import importlib

__all__ = ["reference_uses"]

_DYNAMIC_CALLS = {"exec", "eval", "compile", "__import__", "globals", "vars", "locals"}
_DYNAMIC_MODULES = {"importlib", "builtins", "gc", "inspect", "ctypes", "pkgutil", "runpy"}
_DYNAMIC_ATTRIBUTES = {"__globals__", "__dict__", "__builtins__", "__closure__", "__code__",
                       "__subclasses__", "__wrapped__", "__self__", "__func__", "__module__",
                       "__getattribute__", "modules", "f_globals", "f_locals"}


def _python(source: str) -> ast.Module | None:
    """The cell as Python (IPython's ``!`` and ``%`` lines turned into calls), if it parses."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError, IndexError, RecursionError):
        return None


def _resolve(path: str):
    """The object ``path`` names in the package (``None`` if it names nothing there)."""
    if path != "vaecf" and not path.startswith("vaecf."):
        return None
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute, None)
            if obj is None:
                return None
        return obj
    return None


class _Bindings(ast.NodeVisitor):
    """Names bound, anywhere in the notebook, to a dotted path (``m -> vaecf.metrics``)."""

    def __init__(self):
        self.paths: dict[str, set[str]] = {}

    def bind(self, name: str, path: str) -> None:
        self.paths.setdefault(name, set()).add(path)

    def visit_Import(self, node):
        for alias in node.names:
            if alias.asname:
                self.bind(alias.asname, alias.name)
            else:
                self.bind(alias.name.split(".")[0], alias.name.split(".")[0])

    def visit_ImportFrom(self, node):
        if node.level or not node.module:
            return
        for alias in node.names:
            if alias.name == "*":
                module = _resolve(node.module)
                for name in getattr(module, "__all__", None) or dir(module or object()):
                    self.bind(name, f"{node.module}.{name}")
            else:
                self.bind(alias.asname or alias.name, f"{node.module}.{alias.name}")

    def visit_Assign(self, node):
        for path in self.resolve(node.value):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.bind(target.id, path)
        self.generic_visit(node)

    def resolve(self, node) -> set[str]:
        if isinstance(node, ast.Name):
            return set(self.paths.get(node.id, ()))
        if isinstance(node, ast.Attribute):
            return {f"{p}.{node.attr}" for p in self.resolve(node.value)}
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "getattr" and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            return {f"{p}.{node.args[1].value}" for p in self.resolve(node.args[0])}
        return set()


def _dynamic(node) -> str | None:
    """What makes ``node`` unreadable statically, if anything."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id in _DYNAMIC_CALLS:
            return f"{node.func.id}()"
        if node.func.id == "getattr" and not (len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)):
            return "getattr() with a computed name"
    if isinstance(node, ast.Attribute) and node.attr in _DYNAMIC_ATTRIBUTES:
        return f".{node.attr}"
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        for module in modules:
            if module.split(".")[0] in _DYNAMIC_MODULES:
                return f"import {module}"
    return None


def reference_uses(cells: list[str], references: dict[str, tuple[str, ...]],
                   handout: set[str] = frozenset()) -> dict[str, str]:
    """For each question of ``references`` (question -> dotted names of its reference
    implementations) whose reference the code ``cells`` use, the reason, naming the cell.
    Cells exactly as in ``handout`` (the master's own cells, such as its Colab cell) are
    not searched, though the names they bind are followed."""
    trees = [(index, _python(source)) for index, source in enumerate(cells)]
    bindings = _Bindings()
    for _, tree in trees:
        if tree is not None:
            bindings.visit(tree)
    targets = {q: [obj for obj in map(_resolve, paths) if obj is not None]
               for q, paths in references.items()}
    found: dict[str, str] = {}
    for index, tree in trees:
        if tree is None or cells[index] in handout:
            continue
        for node in ast.walk(tree):
            why = _dynamic(node)
            if why:
                for question in references:
                    found.setdefault(question, f"code cell {index + 1} uses {why}, which the "
                                               "grader cannot check for use of the package's "
                                               "reference implementation")
                continue
            paths = bindings.resolve(node) if isinstance(node, (ast.Name, ast.Attribute, ast.Call)) else set()
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                paths = {path for name in _imported(node) for path in bindings.paths.get(name, ())}
            for path in paths:
                obj = _resolve(path)
                for question, objects in targets.items():
                    if obj is not None and any(obj is target for target in objects):
                        found.setdefault(question, f"code cell {index + 1} uses {path}, the "
                                                   "package's own implementation")
    return found


def _imported(node) -> list[str]:
    """The names an import binds (for ``from m import *``: every public name of ``m``)."""
    if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
        module = _resolve(node.module or "")
        return list(getattr(module, "__all__", None) or dir(module or object()))
    return [alias.asname or alias.name.split(".")[0] for alias in node.names]
