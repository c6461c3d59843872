"""Grade a folder of submissions: each in its own sandbox, every verdict computed here.

For each ``*.ipynb`` (one per student) the grader, in its own process: reads the notebook
as data, refuses another assignment's notebook (by its otter metadata), looks for use of
the package's reference implementations (:mod:`~vaecf.assignments.reference_use`), writes
a clean copy of the code cells and the checks' inputs into a fresh folder, runs it in the
sandbox (:mod:`~vaecf.assignments.sandbox`), reads back the plain arrays its functions
returned (:mod:`~vaecf.assignments.exchange`), judges them against the reference
(:mod:`~vaecf.assignments.verdicts`), and adds the student's row to the CSV
(:mod:`~vaecf.assignments.scoresheet`) and their feedback file. The folder is removed
whatever happens; nothing in it ever holds a solution.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from . import exchange
from .checks import CHECKS
from .feedback import feedback_text, write_feedback
from .questions import Question, assignment_name, read_questions
from .reference_use import reference_uses
from .sandbox import Limits, find_sandbox
from .scoresheet import ScoreSheet
from .verdicts import Verdict, judge_question

__all__ = ["GradingRun", "grade"]

MAX_NOTEBOOK = 50 << 20  # bytes


@dataclass
class GradingRun:
    """What :func:`grade` did: the CSV's rows (all of them, resumed ones too)."""
    sheet: ScoreSheet
    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    missing_protections: tuple[str, ...] = ()


class _Unreadable(ValueError):
    pass


def _read_notebook(path: Path) -> tuple[list[str], str | None]:
    """(code cells' sources, the assignment its otter metadata names, if any)."""
    if path.stat().st_size > MAX_NOTEBOOK:
        raise _Unreadable(f"larger than {MAX_NOTEBOOK >> 20} MB")
    try:
        notebook = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as error:
        raise _Unreadable(f"not JSON ({type(error).__name__})") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise _Unreadable("no list of cells")
    cells = []
    for cell in notebook["cells"]:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            if isinstance(source, list) and all(isinstance(s, str) for s in source):
                source = "".join(source)
            if isinstance(source, str):
                cells.append(source)
    metadata = notebook.get("metadata")
    otter = metadata.get("otter") if isinstance(metadata, dict) else None
    name = otter.get("assignment_name") if isinstance(otter, dict) else None
    return cells, name if isinstance(name, str) else None


def _remove(folder: Path) -> None:
    """Delete a submission's folder, even where the submission took away permissions."""
    def retry(function, path, _):
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(path), stat.S_IRWXU)
            os.chmod(path, stat.S_IRWXU)
        function(path)

    shutil.rmtree(folder, onerror=retry)


def _where(progress: dict, questions: list[Question]) -> str:
    if progress.get("phase") == "cell" and "cell" in progress:
        return f"running code cell {progress['cell'] + 1}"
    if progress.get("phase") == "check" and "question" in progress:
        function = next(q.function for q in questions if q.name == progress["question"])
        return f"checking {progress['question']} ({function})"
    return "starting"


class _Grader:
    def __init__(self, questions, name, handout, sandbox, limits, allow_reference):
        self.questions, self.name, self.handout = questions, name, handout
        self.sandbox, self.limits, self.allow_reference = sandbox, limits, allow_reference
        self.cases = {q.name: CHECKS[q.check].cases() for q in questions}

    def row(self, student: str, verdicts: list[Verdict], notes: list[str]) -> dict:
        row = {"student": student, **{v.question: v.score for v in verdicts}}
        row["total"] = sum(v.score for v in verdicts)
        row["possible"] = sum(q.points for q in self.questions)
        row["error"] = "; ".join(notes + [v.error for v in verdicts if v.error])
        return row

    def zero(self, student: str, reason: str) -> tuple[dict, str]:
        verdicts = [Verdict(q.name, 0.0, q.points, f"Not graded: {reason}.")
                    for q in self.questions]
        return self.row(student, verdicts, [reason]), feedback_text(student, verdicts, [reason], [])

    def grade(self, path: Path) -> tuple[dict, str]:
        """(CSV row, feedback text) of one submission."""
        student = path.stem
        try:
            cells, declared = _read_notebook(path)
        except (_Unreadable, OSError) as error:
            return self.zero(student, f"not a readable notebook: {error}")
        if declared is not None and declared != self.name:
            return self.zero(student, f"this is a notebook of assignment {declared} (its otter "
                                      f"metadata), not {self.name}: grade it with that one")
        uses = {} if self.allow_reference else reference_uses(
            cells, {q.name: CHECKS[q.check].references for q in self.questions}, self.handout)
        folder = Path(tempfile.mkdtemp(prefix="vaecf-grade-"))
        try:
            notebook = {"cells": [{"cell_type": "code", "source": s} for s in cells]}
            (folder / exchange.SUBMISSION).write_text(json.dumps(notebook))
            for question in self.questions:
                exchange.write_inputs(folder, question.name, self.cases[question.name])
            run = self.sandbox.run(folder, self.limits, {"questions": [
                {"name": q.name, "function": q.function, "check": q.check}
                for q in self.questions]})
            reader = exchange.OutputReader(folder)
            returned = {q.name: reader.outcomes(q.name, len(self.cases[q.name]))
                        for q in self.questions}
            events = reader.cell_events()
            where = _where(reader.progress([q.name for q in self.questions]), self.questions)
        finally:
            _remove(folder)
        notes = []
        if run.timed_out:
            notes.append(f"stopped after {self.limits.timeout:g} s (--timeout) while {where}")
        elif run.returncode != 0 or any(r is None for r in returned.values()):
            how = (f"killed by signal {-run.returncode}" if run.returncode < 0
                   else f"exit status {run.returncode}")
            notes.append(f"the notebook ended its grading process early ({how}) while {where}"
                         " (os._exit, a crash, or memory exhaustion)")
        for event in events:
            if event["event"] == "timed_out":
                notes.append(f"code cell {event['cell'] + 1} was stopped after "
                             f"{self.limits.step_timeout:g} s")
            elif event["event"] == "out_of_memory":
                notes.append(f"code cell {event['cell'] + 1} ran out of memory "
                             f"(--memory {self.limits.memory_mib} MiB)")
        cell_errors = [f"code cell {e['cell'] + 1}: {e['type'] or 'an error'}"
                       for e in events if e["event"] == "failed"]
        not_run = notes[0] if notes else "the sandbox returned no answer"
        verdicts = [judge_question(q, self.cases[q.name], returned[q.name], not_run,
                                   uses.get(q.name, "")) for q in self.questions]
        return (self.row(student, verdicts, notes),
                feedback_text(student, verdicts, notes, cell_errors))


@contextlib.contextmanager
def _terminate_as_exit():
    """SIGTERM raises SystemExit (in the main thread), so clean-up code runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def exit_(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, exit_)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def grade(master: str | Path, submissions: str | Path, out: str | Path,
          feedback_dir: str | Path | None = None, limits: Limits = Limits(300, 4096),
          jobs: int = 1, unsandboxed: bool = False, allow_reference: bool = False,
          sandbox=None, progress=None) -> GradingRun:
    """Grade every ``*.ipynb`` in ``submissions`` against the master notebook ``master``.

    Rows already in ``out`` are kept and not regraded. ``progress(student, row)`` is called
    after each student. ``sandbox`` replaces :func:`~vaecf.assignments.sandbox.find_sandbox`
    (tests use it to force the fallback).
    """
    master, submissions = Path(master), Path(submissions)
    questions = read_questions(master)
    if not submissions.is_dir():
        raise FileNotFoundError(f"No folder {submissions.resolve()} of submissions.")
    files = sorted(p for p in submissions.glob("*.ipynb") if p.is_file())
    if not files:
        raise FileNotFoundError(f"No .ipynb submissions in {submissions.resolve()}.")
    columns = ["student", *(q.name for q in questions), "total", "possible", "error"]
    sheet = ScoreSheet(out, columns)
    sandbox = sandbox or find_sandbox(unsandboxed, slots=jobs)
    sandbox.check_exposure(master.parent, submissions, Path(out).resolve().parent,
                           *([Path(feedback_dir)] if feedback_dir else []))
    run = GradingRun(sheet, missing_protections=sandbox.missing,
                     skipped=[p.stem for p in files if p.stem in sheet.done])
    handout = set(_read_notebook(master)[0])
    grader = _Grader(questions, assignment_name(master), handout, sandbox, limits,
                     allow_reference)
    pending = [p for p in files if p.stem not in sheet.done]
    with _terminate_as_exit(), ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(grader.grade, path): path for path in pending}
        try:
            for future in as_completed(futures):
                row, text = future.result()
                if feedback_dir is not None:
                    write_feedback(feedback_dir, row["student"], text)
                sheet.add(row)
                run.graded.append(row["student"])
                if progress is not None:
                    progress(row["student"], row)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            sandbox.stop_all()
            raise
    return run
