"""The benchmark's comparison environment: a virtual environment of its own holding Cornac
(whose ``VAECF`` the benchmark times against ours), made from the package index on first
use and reused after. Cornac is never a dependency of vaecf.

The environment lives in ``$VAECF_BENCH_ENV``, by default ``~/.cache/vaecf/cornac-env``,
and gets the same torch release as this one, so the two libraries run on the same kernels.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from ..outputs import write_data

__all__ = ["ENV_VARIABLE", "default_folder", "comparison_python"]

ENV_VARIABLE = "VAECF_BENCH_ENV"
READY = "vaecf-comparison-ready"
"""Written last, once Cornac imports: a folder without it is made (again) on the next use."""


def default_folder() -> Path:
    """``$VAECF_BENCH_ENV``, or ``~/.cache/vaecf/cornac-env``."""
    return Path(os.environ.get(ENV_VARIABLE) or Path.home() / ".cache" / "vaecf" / "cornac-env")


def _last_line(done: subprocess.CompletedProcess) -> str:
    lines = [line for line in (done.stderr or "").splitlines() + (done.stdout or "").splitlines()
             if line.strip() and not line.startswith("WARNING: Location")]
    return lines[-1].strip() if lines else f"exit status {done.returncode}"


def comparison_python(folder: str | os.PathLike | None = None, say=None) -> tuple[str | None, str | None]:
    """The comparison environment's Python, made first if it is not there yet.

    Returns ``(python, None)``, or ``(None, reason)``: one line that says why there is no
    comparison (no package index reachable, a folder in the way, ...) and how to proceed.
    ``say`` receives the progress messages (default: standard error).
    """
    say = say or (lambda text: print(text, file=sys.stderr, flush=True))
    folder = Path(folder) if folder is not None else default_folder()
    python = folder / "bin" / "python"
    if (folder / READY).exists() and python.exists():
        return str(python), None
    if folder.exists() and any(folder.iterdir()) and not (folder / "pyvenv.cfg").exists():
        return None, (f"{folder} exists and is not a virtual environment; remove it or point "
                      f"{ENV_VARIABLE} elsewhere")
    torch_release = torch.__version__.split("+")[0]
    say(f"making the comparison environment in {folder} (once: Cornac and torch {torch_release} "
        "from the package index; a few minutes) ...")
    steps = [
        ("make the virtual environment", [sys.executable, "-m", "venv", str(folder)]),
        ("install Cornac", [str(python), "-m", "pip", "install", "--quiet",
                            f"torch=={torch_release}", "cornac"]),
        ("import Cornac", [str(python), "-c", "import cornac; print(cornac.__version__)"]),
    ]
    for what, command in steps:
        try:
            done = subprocess.run(command, capture_output=True, text=True)
        except OSError as error:
            return None, f"could not {what} in {folder} ({error.strerror})"
        if done.returncode != 0:
            return None, (f"could not {what} in {folder}: {_last_line(done)} (pass --other-python "
                          "a Python with Cornac, or --no-other to skip the comparison)")
    write_data(folder / READY, done.stdout.strip() + "\n")
    say(f"comparison environment ready: Cornac {done.stdout.strip()}.")
    return str(python), None
