"""The teacher's side of the assignments, built on otter-grader.

* :func:`generate` turns each master notebook (``assignments/source/NN_name.ipynb``, the
  reference solution with otter-grader's solution and test markers) into the student
  notebook handed out (``assignments/student/NN_name.ipynb``) with ``otter assign``.
* :func:`find_master` names the master of an assignment, for grading
  (:mod:`vaecf.assignments.grading`, which does not use otter: it runs each submission in
  a sandbox and judges the answers itself).
* :func:`stale_students` lists the committed student notebooks that no longer match their
  master (or masters whose Colab cell lags :data:`vaecf.notebook.REPO_URL`), so CI fails
  when someone edits one without regenerating the other.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import tempfile
from pathlib import Path

import nbformat

__all__ = ["SOURCE_DIR", "STUDENT_DIR", "masters", "find_master", "generate",
           "stale_students"]

SOURCE_DIR = Path("assignments/source")
STUDENT_DIR = Path("assignments/student")


def _otter():
    try:
        import otter.api  # noqa: F401  (otter-grader is only needed by the teacher's tools)
        from otter.assign import main as assign
    except ImportError as error:
        raise ImportError("The teacher's tools need otter-grader: pip install otter-grader "
                          "(the version pinned in requirements.txt).") from error
    logging.getLogger("otter").setLevel(logging.WARNING)
    return assign


def masters(source_dir: str | os.PathLike = SOURCE_DIR) -> list[Path]:
    """The master notebooks, in order."""
    source_dir = Path(source_dir)
    found = sorted(source_dir.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"No master notebooks (NN_name.ipynb) in {source_dir.resolve()}; "
                                "run from the repository root or pass --source.")
    return found


def find_master(assignment: str, source_dir=SOURCE_DIR) -> Path:
    """The master of ``assignment`` (``"01"``, ``"01_ranking_metrics"`` or its file name)."""
    for path in masters(source_dir):
        if assignment in (path.stem, path.name, path.stem[:2]):
            return path
    names = ", ".join(p.stem for p in masters(source_dir))
    raise ValueError(f"No assignment {assignment!r}; choose one of {names}.")


def _run_assign(master: Path, out: Path, autograder: bool) -> None:
    assign = _otter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assign(str(master), str(out), no_run_tests=True, no_pdfs=True)
    if autograder and not list((out / "autograder").glob("*.zip")):
        raise RuntimeError(f"otter assign wrote no autograder zip for {master}; is "
                           "`generate: true` in its ASSIGNMENT CONFIG cell?")


def _normalise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Stable cell ids (otter assign draws random ones), so regenerating changes nothing."""
    for index, cell in enumerate(nb.cells):
        digest = hashlib.sha1(f"{index}:{cell.cell_type}:{cell.source}".encode()).hexdigest()
        cell["id"] = digest[:8]
    return nb


def _student_text(master: Path) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        _run_assign(master, Path(tmp) / "dist", autograder=False)
        nb = nbformat.read(Path(tmp) / "dist" / "student" / master.name, as_version=4)
    return nbformat.writes(_normalise(nb)) + "\n"


def _bootstrap_current(master: Path, write: bool) -> bool:
    """Whether the master's Colab cell is :func:`vaecf.notebook.bootstrap_source` (and,
    with ``write``, make it so), so a fork's repository URL reaches the assignments too."""
    from ..notebook import bootstrap_source

    nb = nbformat.read(master, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("# Colab:")]
    if len(cells) != 1:
        raise ValueError(f"{master} must have exactly one Colab bootstrap cell (starting "
                         f"'# Colab:'), found {len(cells)}.")
    if cells[0].source == bootstrap_source():
        return True
    if write:
        cells[0].source = bootstrap_source()
        nbformat.write(nb, master)
    return False


def generate(source_dir=SOURCE_DIR, student_dir=STUDENT_DIR) -> list[Path]:
    """Write the student notebook of every master (after bringing the master's Colab cell
    up to date); returns the files written."""
    student_dir = Path(student_dir)
    student_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for master in masters(source_dir):
        _bootstrap_current(master, write=True)
        path = student_dir / master.name
        path.write_text(_student_text(master))
        written.append(path)
    return written


def stale_students(source_dir=SOURCE_DIR, student_dir=STUDENT_DIR) -> list[str]:
    """Names of student notebooks missing or different from what their master generates."""
    stale = []
    for master in masters(source_dir):
        path = Path(student_dir) / master.name
        if not _bootstrap_current(master, write=False):
            stale.append(f"{master.name} (its Colab cell)")
        elif not path.exists() or path.read_text() != _student_text(master):
            stale.append(master.name)
    return stale
