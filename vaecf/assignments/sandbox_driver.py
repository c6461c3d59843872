"""What runs inside a submission's sandbox: ``python -m vaecf.assignments.sandbox_driver DIR``.

It first confines itself (before any of the student's code runs): started as root, it
becomes the unprivileged user the grader gave the folder to, and it sets its
resource limits (address space, processes, file size, no core dumps). Then it runs the
notebook's code cells in order in one IPython namespace, a failing cell not stopping the
rest and each cell stopped after its time limit, and finally calls each question's
function on the grader's inputs (:meth:`vaecf.assignments.checks.Check.call`), writing what
came back as plain arrays (:mod:`vaecf.assignments.exchange`).

It judges nothing: the student's code shares this process and could change anything in it,
so the grader compares the answers with the reference in its own process.
"""
from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import sys
from pathlib import Path

__all__ = ["main"]


class _Stopped(BaseException):
    """The time limit of a cell or of a call ran out (a BaseException, so that a student's
    ``except Exception`` does not swallow it)."""


_deadline = {"on": False, "own_pid_namespace": False}
_LIBRARIES = tuple({str(p) for base in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                        Path(__file__).parents[1])
                    for p in (Path(base), Path(base).resolve())}) + ("<frozen ",)


def _stop(signum, frame):
    # Stop only in the student's own code (cells, and the functions defined there): a stop
    # raised in library code can be swallowed (at-fork hooks, __del__ ignore exceptions) or
    # leave it half-done, so the timer repeats until one lands in the student's code.
    if _deadline["on"] and _deadline["own_pid_namespace"]:
        _kill_others()  # a fork bomb's copies would starve what follows of the CPU
    if (_deadline["on"] and frame is not None
            and not frame.f_code.co_filename.startswith(_LIBRARIES)):
        raise _Stopped


def _kill_others() -> None:
    """In the sandbox's own process namespace every process but this one and its init is
    the student's: kill them all, again while new ones appear (a fork bomb's copies)."""
    for _ in range(1000):
        with contextlib.suppress(OSError):
            os.kill(-1, signal.SIGKILL)
        others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())]
        if not others:
            return


def _within(seconds: float, function):
    """``(function(), False)``, or ``(None, True)`` if it was stopped after ``seconds``."""
    signal.signal(signal.SIGALRM, _stop)
    _deadline["on"] = True
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.25)
    try:
        return function(), False
    except _Stopped:
        return None, True
    finally:
        _deadline["on"] = False
        signal.setitimer(signal.ITIMER_REAL, 0)


def _become_owner(folder: Path) -> None:
    """Started as root, switch to the unprivileged user the grader gave the folder to."""
    owner = os.stat(folder).st_uid
    if os.geteuid() == 0 and owner != 0:
        os.setgroups([])
        os.setgid(owner)
        os.setuid(owner)


def _limit(job: dict) -> None:
    limits = {resource.RLIMIT_AS: job["memory_bytes"], resource.RLIMIT_CORE: 0,
              resource.RLIMIT_FSIZE: 256 << 20}
    if job.get("processes"):
        limits[resource.RLIMIT_NPROC] = job["processes"]
    for which, value in limits.items():
        resource.setrlimit(which, (value, value))


def _kill_leftovers(job: dict, me: int) -> None:
    """End the processes a cell started and left running (in the sandbox only)."""
    if os.getpid() != me:  # a copy of this process made by os.fork() in a cell
        os._exit(0)
    if job.get("own_pid_namespace"):
        _kill_others()


def _run_cells(shell, cells: list[str], job: dict, folder: Path, me: int) -> list[dict]:
    from .exchange import write_progress

    events = []
    for index, source in enumerate(cells):
        write_progress(folder, phase="cell", cell=index)
        result, stopped = _within(job["cell_timeout"],
                                  lambda: shell.run_cell(source, store_history=False))
        _kill_leftovers(job, me)
        error = None if stopped else result.error_before_exec or result.error_in_exec
        if stopped or isinstance(error, _Stopped):
            events.append({"cell": index, "event": "timed_out"})
        elif isinstance(error, MemoryError):
            events.append({"cell": index, "event": "out_of_memory"})
        elif error is not None:
            events.append({"cell": index, "event": "failed", "type": type(error).__name__})
    return events


def _answer(folder: Path, question: dict, namespace: dict, job: dict) -> None:
    from .checks import CHECKS, Outcome, run_case
    from .exchange import read_inputs, write_outcomes, write_progress

    write_progress(folder, phase="check", question=question["name"])
    fn = namespace.get(question["function"])
    if fn is None or not callable(fn):
        state = "missing" if fn is None else "not_callable"
        write_outcomes(folder, question["name"], state, [])
        return
    outcomes = []
    for case in read_inputs(folder, question["name"]):
        outcome, stopped = _within(job["call_timeout"],
                                   lambda: run_case(CHECKS[question["check"]], fn, case))
        outcome = Outcome("timed_out") if stopped else outcome
        outcomes.append(outcome)
        if outcome.status == "timed_out":
            break
    write_outcomes(folder, question["name"], "found", outcomes)


def main(argv=None) -> int:
    folder = Path((argv or sys.argv[1:])[0])
    _become_owner(folder)
    os.makedirs(os.environ.get("HOME", folder), exist_ok=True)
    job = json.loads((folder / "job.json").read_text())
    _limit(job)
    # Everything the driver needs is imported before the student's code can get in the way.
    from IPython.core.interactiveshell import InteractiveShell

    from . import checks  # noqa: F401
    from .exchange import SUBMISSION, write_cells, write_progress

    me = os.getpid()
    write_progress(folder, phase="start")
    notebook = json.loads((folder / SUBMISSION).read_text())
    cells = ["".join(c.get("source", "")) for c in notebook.get("cells", [])
             if c.get("cell_type") == "code"]
    shell = InteractiveShell.instance()
    shell.run_line_magic("xmode", "Plain")  # nobody reads the tracebacks: make them cheap
    _deadline["own_pid_namespace"] = bool(job.get("own_pid_namespace"))
    write_cells(folder, _run_cells(shell, cells, job, folder, me))
    for question in job["questions"]:
        _answer(folder, question, shell.user_ns, job)
        _kill_leftovers(job, me)
    return 0


if __name__ == "__main__":
    os._exit(main())  # no interpreter shutdown: nothing the notebook registered runs after
