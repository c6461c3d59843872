"""The files through which the grader and a sandboxed submission talk, and nothing else.

The grader writes into the submission's working folder ``job.json`` (what to run) and the
checks' inputs, ``inputs/<question>/<case>.<name>.npy``; the sandbox
(:mod:`vaecf.assignments.sandbox_driver`) writes back what the student's functions returned,
``outputs/<question>/<case>.<name>.npy``, with one manifest per question
(``outputs/<question>.json``: whether the function exists and how each call ended),
``outputs/cells.json`` (cells that timed out or failed) and ``outputs/progress.json`` (what
it was doing last, for the message when it is stopped).

Everything the sandbox wrote is read as untrusted data: plain JSON and ``.npy`` arrays of
numbers (``np.load(allow_pickle=False)``), each file checked to be a regular file (no
links, no pipes) within size limits, every string checked against a narrow pattern. What
fails a check is treated as missing; nothing read here is ever executed.
"""
from __future__ import annotations

import io
import json
import os
import re
import stat
from pathlib import Path

import numpy as np

from ..outputs import write_data
from .checks import Case, Outcome

__all__ = ["SUBMISSION", "STATUSES", "write_job", "read_job", "write_inputs", "read_inputs",
           "write_outcomes", "write_cells", "write_progress", "OutputReader"]

SUBMISSION = "submission.ipynb"
STATUSES = ("returned", "not_implemented", "raised", "bad_return", "timed_out")
FUNCTION_STATES = ("found", "missing", "not_callable")
CELL_EVENTS = ("timed_out", "out_of_memory", "failed")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.]{0,99}")
_TYPE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,59}")
_MAX_JSON = 1 << 20


def _save(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    write_data(path, buffer.getvalue())


def _array_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a valid array name: {name!r}")
    return name


# ---------------------------------------------------------------- the grader's side, out

def write_job(folder: Path, job: dict) -> None:
    write_data(Path(folder) / "job.json", json.dumps(job))


def write_inputs(folder: Path, question: str, cases: list[Case]) -> None:
    for index, case in enumerate(cases):
        for name, array in case.inputs.items():
            _save(Path(folder) / "inputs" / question / f"{index}.{_array_name(name)}.npy", array)


# ---------------------------------------------------------------- the sandbox's side

def read_job(folder: Path) -> dict:
    return json.loads((Path(folder) / "job.json").read_text())


def read_inputs(folder: Path, question: str) -> list[Case]:
    """The cases the grader wrote for ``question`` (inputs only: no descriptions needed)."""
    cases: dict[int, dict] = {}
    for path in sorted((Path(folder) / "inputs" / question).glob("*.npy")):
        index, name = path.name[:-len(".npy")].split(".", 1)
        cases.setdefault(int(index), {})[name] = np.load(path, allow_pickle=False)
    return [Case("", cases[i]) for i in sorted(cases)]


def write_outcomes(folder: Path, question: str, function: str, outcomes: list[Outcome]) -> None:
    """The arrays of every call, then the manifest (so a manifest means all is written)."""
    for index, outcome in enumerate(outcomes):
        for name, array in outcome.outputs.items():
            _save(Path(folder) / "outputs" / question / f"{index}.{_array_name(name)}.npy", array)
    manifest = {"function": function,
                "cases": [{"status": o.status, "type": o.type_name} for o in outcomes]}
    write_data(Path(folder) / "outputs" / f"{question}.json", json.dumps(manifest))


def write_cells(folder: Path, events: list[dict]) -> None:
    write_data(Path(folder) / "outputs" / "cells.json", json.dumps(events))


def write_progress(folder: Path, **where) -> None:
    write_data(Path(folder) / "outputs" / "progress.json", json.dumps(where))


# ---------------------------------------------------------------- the grader's side, in

class OutputReader:
    """Reads what a sandbox wrote under ``folder/outputs``, distrusting all of it.

    ``budget`` bounds the bytes read in all (a submission cannot exhaust the grader's memory).
    """

    def __init__(self, folder: Path, budget: int = 64 << 20):
        self.folder = Path(folder)
        self.budget = budget

    def _open_dir(self, parts: list[str]) -> int | None:
        fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
        for part in parts:
            try:
                child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError:
                os.close(fd)
                return None
            os.close(fd)
            fd = child
        return fd

    def _read(self, parts: list[str], limit: int) -> bytes | None:
        """A regular file's bytes (``None`` if it is missing, a link, not a file or too big)."""
        fd = self._open_dir(parts[:-1])
        if fd is None:
            return None
        try:
            handle = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        except OSError:
            return None
        finally:
            os.close(fd)
        try:
            info = os.fstat(handle)
            if not stat.S_ISREG(info.st_mode) or info.st_size > min(limit, self.budget):
                return None
            data = os.read(handle, info.st_size + 1)
        finally:
            os.close(handle)
        if len(data) > min(limit, self.budget):
            return None
        self.budget -= len(data)
        return data

    def _json(self, name: str):
        data = self._read(["outputs", name], _MAX_JSON)
        if data is None:
            return None
        try:
            return json.loads(data)
        except ValueError:
            return None

    def _array(self, parts: list[str]) -> np.ndarray | None:
        data = self._read(parts, 16 << 20)
        if data is None:
            return None
        try:
            array = np.load(io.BytesIO(data), allow_pickle=False)
        except Exception:  # not an .npy of plain numbers: a pickle, a truncated file, ...
            return None
        return array if isinstance(array, np.ndarray) and array.dtype.kind in "biuf" else None

    def outcomes(self, question: str, n_cases: int) -> tuple[str, list[Outcome]] | None:
        """(function state, one :class:`Outcome` per case run), or ``None`` if the sandbox
        left no valid manifest for ``question`` (it was stopped before, or wrote nonsense)."""
        manifest = self._json(f"{question}.json")
        if not isinstance(manifest, dict) or manifest.get("function") not in FUNCTION_STATES:
            return None
        cases = manifest.get("cases")
        if not isinstance(cases, list) or len(cases) > n_cases:
            return None
        fd = self._open_dir(["outputs", question])
        files = []
        if fd is not None:
            try:
                files = os.listdir(fd)[:4096]
            finally:
                os.close(fd)
        outcomes = []
        for index, entry in enumerate(cases):
            status = entry.get("status") if isinstance(entry, dict) else None
            type_name = entry.get("type", "") if isinstance(entry, dict) else ""
            if status not in STATUSES:
                return None
            if not isinstance(type_name, str) or not _TYPE.fullmatch(type_name):
                type_name = "an exception" if status == "raised" else "something else"
            outputs = {}
            for file in files:
                match = re.fullmatch(rf"{index}\.({_NAME.pattern})\.npy", file)
                if status == "returned" and match:
                    array = self._array(["outputs", question, file])
                    if array is None:
                        status, type_name = "bad_return", "data that is not plain numbers"
                        break
                    outputs[match.group(1)] = array
            outcomes.append(Outcome(status, outputs, type_name))
        return manifest["function"], outcomes

    def cell_events(self) -> list[dict]:
        """Cells that timed out, ran out of memory or failed: ``{"cell": int, "event": str,
        "type": str}`` (``type``: the exception's class, validated)."""
        events = self._json("cells.json")
        valid = []
        for event in events if isinstance(events, list) else []:
            if (isinstance(event, dict) and isinstance(event.get("cell"), int)
                    and event.get("event") in CELL_EVENTS):
                type_name = event.get("type", "")
                valid.append({"cell": event["cell"], "event": event["event"],
                              "type": type_name if isinstance(type_name, str)
                              and _TYPE.fullmatch(type_name) else ""})
        return valid[:1000]

    def progress(self, questions: list[str]) -> dict:
        """Where the sandbox was last: ``{"phase": "start"|"cell"|"check", "cell": int,
        "question": one of ``questions``}`` (fields that fail validation are dropped)."""
        where = self._json("progress.json")
        if not isinstance(where, dict):
            return {}
        clean = {}
        if where.get("phase") in ("start", "cell", "check"):
            clean["phase"] = where["phase"]
        if isinstance(where.get("cell"), int):
            clean["cell"] = where["cell"]
        if where.get("question") in questions:
            clean["question"] = where["question"]
        return clean
