"""The questions of an assignment, read from its master notebook.

A master marks each question with otter-grader's ``# BEGIN QUESTION`` raw cell (``name:``,
``points:``) and gives it a test cell ``def test_q1a(ndcg_at_k): ... check_ndcg(ndcg_at_k)``:
the test's argument is the function the student writes, the ``check_*`` it calls is the
check (:data:`vaecf.assignments.checks.CHECKS`) that grades it.
"""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

from .checks import CHECKS

__all__ = ["Question", "read_questions", "assignment_name"]


@dataclass(frozen=True)
class Question:
    name: str       # "q1a"
    points: float
    function: str   # "ndcg_at_k"
    check: str      # "check_ndcg"


def _cells(master: Path) -> list[tuple[str, str]]:
    cells = json.loads(Path(master).read_text())["cells"]
    return [(c["cell_type"], "".join(c["source"])) for c in cells]


def _settings(text: str) -> dict[str, str]:
    """``key: value`` lines of an otter raw cell."""
    pairs = (line.split(":", 1) for line in text.splitlines()[1:] if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def assignment_name(master: Path) -> str:
    """The ``name:`` of the master's ``# ASSIGNMENT CONFIG`` cell (else its file name)."""
    for kind, text in _cells(master):
        if kind == "raw" and text.startswith("# ASSIGNMENT CONFIG"):
            return _settings(text).get("name", Path(master).stem)
    return Path(master).stem


def _test(text: str, master: Path) -> tuple[str, str]:
    """(function, check) of a test cell ``def test_qX(function): ... check_y(function)``."""
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_") and node.args.args:
            calls = [c.func.id for c in ast.walk(node)
                     if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
                     and c.func.id in CHECKS]
            if calls:
                return node.args.args[0].arg, calls[0]
    raise ValueError(f"{master}: a test cell must define `def test_<question>(<function>)` "
                     f"calling one of {', '.join(CHECKS)}; found:\n{text}")


def read_questions(master: str | Path) -> list[Question]:
    """Every question of the master, in order."""
    master = Path(master)
    questions, current, in_tests = [], None, False
    for kind, text in _cells(master):
        if kind == "raw" and text.startswith("# BEGIN QUESTION"):
            current = _settings(text)
        elif kind == "raw" and text.startswith("# BEGIN TESTS"):
            in_tests = True
        elif kind == "raw" and text.startswith("# END TESTS"):
            in_tests = False
        elif kind == "code" and in_tests and current is not None:
            function, check = _test(text, master)
            questions.append(Question(current["name"], float(current.get("points") or 0),
                                      function, check))
            current = None
    if not questions:
        raise ValueError(f"{master} has no questions (`# BEGIN QUESTION` cells with tests).")
    return questions
