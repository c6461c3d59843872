"""The teacher's side of the assignments, built on otter-grader.

* :func:`generate` turns each master notebook (``assignments/source/NN_name.ipynb``, the
  reference solution with otter-grader's solution and test markers) into the student
  notebook handed out (``assignments/student/NN_name.ipynb``) with ``otter assign``.
* :func:`grade` scores a folder of submitted notebooks with ``otter run`` (no Docker:
  ``otter grade`` needs it) and returns one row per student and one column per question.
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
import shutil
import tempfile
from pathlib import Path

import nbformat

__all__ = ["SOURCE_DIR", "STUDENT_DIR", "masters", "generate", "stale_students",
           "build_autograder", "grade", "write_scores"]

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


def _find_master(assignment: str, source_dir) -> Path:
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


def build_autograder(assignment: str, out_dir, source_dir=SOURCE_DIR) -> Path:
    """Build the otter autograder zip of one assignment into ``out_dir``; returns its path."""
    master = _find_master(assignment, source_dir)
    out = Path(out_dir) / master.stem
    if out.exists():
        shutil.rmtree(out)
    _run_assign(master, out, autograder=True)
    return next((out / "autograder").glob("*.zip"))


def _grade_one(path: Path, zip_path: Path, questions: list[str], feedback_dir) -> dict:
    from otter.api import grade_submission

    row = {"student": path.stem, **{q: 0.0 for q in questions}, "error": ""}
    try:
        nbformat.read(path, as_version=4)
    except Exception as error:  # an unreadable upload scores zero, with the reason
        row["error"] = f"not a readable notebook: {type(error).__name__}: {error}"
        return row
    with contextlib.redirect_stderr(io.StringIO()):
        results = grade_submission(str(path), str(zip_path), quiet=True)
    if results.catastrophic_error is not None:
        row["error"] = f"grading failed: {results.catastrophic_error}"
    for question in questions:
        if question in results.results:
            row[question] = float(results.get_score(question))
    if feedback_dir is not None:
        text = "\n\n".join(results.results[q].summary() for q in questions if q in results.results)
        (Path(feedback_dir) / f"{path.stem}.txt").write_text((row["error"] + "\n" + text).strip() + "\n")
    return row


def _questions(zip_path: Path) -> dict:
    """Question names and points, read from the autograder's tests."""
    import zipfile

    points = {}
    with zipfile.ZipFile(zip_path) as archive:
        for name in sorted(archive.namelist()):
            if name.startswith("tests/") and name.endswith(".py"):
                scope: dict = {}
                exec(archive.read(name).decode(), scope)  # otter's own test file format
                points[scope["name"]] = float(scope.get("points") or 0)
    return points


def grade(assignment: str, submissions, source_dir=SOURCE_DIR, autograder=None,
          feedback_dir=None, progress: bool = True):
    """Score every ``*.ipynb`` in the folder ``submissions`` (one file per student).

    Each submission is run top to bottom (errors do not stop it) and then the master's
    tests, the same checks the student ran, are applied to what it defined.

    Args:
        assignment: ``"01"`` or ``"01_ranking_metrics"``.
        autograder: an otter autograder zip; by default one is built from the master.
        feedback_dir: if given, ``<student>.txt`` there holds each question's feedback.

    Returns a pandas DataFrame: ``student`` (the file name), one column per question with
    its score, ``total``, ``possible`` and ``error`` (why a file could not be graded).
    """
    import pandas as pd
    from tqdm.auto import tqdm

    files = sorted(Path(submissions).glob("*.ipynb"))
    if not files:
        raise FileNotFoundError(f"No .ipynb submissions in {Path(submissions).resolve()}.")
    with tempfile.TemporaryDirectory() as tmp:
        zip_path = Path(autograder) if autograder else build_autograder(assignment, tmp, source_dir)
        points = _questions(zip_path)
        if feedback_dir is not None:
            Path(feedback_dir).mkdir(parents=True, exist_ok=True)
        rows = [_grade_one(path, zip_path, list(points), feedback_dir)
                for path in tqdm(files, desc=f"grading {assignment}", disable=not progress)]
    table = pd.DataFrame(rows, columns=["student", *points, "error"])
    table.insert(len(points) + 1, "total", table[list(points)].sum(axis=1))
    table.insert(len(points) + 2, "possible", sum(points.values()))
    return table


def write_scores(table, out) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    return out

