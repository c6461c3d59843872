"""Execute notebooks as Colab opens them, for .ci/colab-emulation (run in the emulation's Python).

Each notebook is copied alone into an empty folder under CONTENT (Colab's /content) and
executed there, in smoke size, through its own Colab cell: vaecf is uninstalled first, so
every notebook's cell really installs it. A notebook fails on an error (a student notebook:
only on an error before its first answer or a failed import, since its answers are left for
the student), on a warning printed after the Colab cell, on a slider that displayed no
widget, on anything it wrote outside its own folder, when the Colab cell installed another
ref than REF or changed torch, or when a cell runs past COLAB_CELL_TIMEOUT seconds.

usage: colab_execute.py CONTENT REF NOTEBOOK...
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

CELL_TIMEOUT = int(os.environ.get("COLAB_CELL_TIMEOUT", "600"))
WIDGET = "application/vnd.jupyter.widget-view+json"
SET_UP_CELLS = 3  # a student notebook's Colab cell, imports and parameters must run cleanly


def _python(code: str) -> str:
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return run.stdout.strip() if run.returncode == 0 else f"(failed: {run.stderr.strip()[-300:]})"


def torch_install() -> str:
    """torch's version and where it is installed: the Colab cell must leave both alone."""
    return _python("import importlib.metadata as m; d = m.distribution('torch'); "
                   "print(d.version, d.locate_file(''))")


def installed_ref() -> str:
    """The git ref the installed vaecf came from (pip's record of the direct URL)."""
    return _python("import importlib.metadata as m, json; "
                   "print(json.loads(m.distribution('vaecf').read_text('direct_url.json'))"
                   "['vcs_info']['requested_revision'])")


def problems(nb, student: bool) -> list[str]:
    found = []
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    for i, cell in enumerate(code):
        outputs = cell.get("outputs", [])
        for out in outputs:
            if out.output_type == "error":
                if not student or i < SET_UP_CELLS or out.ename in ("ModuleNotFoundError",
                                                                   "ImportError"):
                    found.append(f"code cell {i}: {out.ename}: {out.evalue[:300]}")
            elif (i > 0 and out.output_type == "stream" and out.name == "stderr"
                  and "Warning" in out.text):
                found.append(f"code cell {i} printed a warning: {out.text.strip()[:400]}")
        if ("beta_slider(" in cell.source or "annealing_slider(" in cell.source) and not any(
                WIDGET in out.get("data", {}) for out in outputs):
            found.append(f"code cell {i}: the slider displayed no widget")
    return found


def execute(source: Path, content: Path, ref: str) -> dict:
    student = "student" in source.parts
    folder = content / f"{source.parent.name}-{source.stem}"
    folder.mkdir(parents=True)
    shutil.copy(source, folder / source.name)
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "--quiet", "--yes", "vaecf"],
                   capture_output=True)
    torch_before = torch_install()
    nb = nbformat.read(folder / source.name, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            allow_errors=student, resources={"metadata": {"path": str(folder)}})
    start = time.monotonic()
    found = []
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
        found.append(f"{type(error).__name__}: {str(error)[-600:]}")
    seconds = time.monotonic() - start
    nbformat.write(nb, folder / f"{source.stem}.executed.ipynb")
    found += problems(nb, student)
    if installed_ref() != ref:
        found.append(f"the Colab cell installed vaecf from {installed_ref()!r}, not {ref!r}")
    if torch_install() != torch_before:
        found.append(f"torch changed: {torch_before} -> {torch_install()}")
    return {"notebook": str(source), "seconds": round(seconds, 1), "problems": found}


def main(content: Path, ref: str, notebooks: list[Path]) -> int:
    content.mkdir(parents=True, exist_ok=True)
    results = []
    for source in notebooks:
        result = execute(source.resolve(), content, ref)
        results.append(result)
        verdict = "ok" if not result["problems"] else "FAILED"
        print(f"{verdict:6} {result['seconds']:7.1f} s  {source}", flush=True)
        for problem in result["problems"]:
            print(f"         {problem}", flush=True)
    own = {f"{s.resolve().parent.name}-{s.stem}" for s in notebooks}
    strays = sorted(p.name for p in content.iterdir() if p.name not in own)
    if strays:
        print(f"FAILED: written outside the notebooks' own folders: {strays}")
    (content / "report.json").write_text(json.dumps(results, indent=2))
    failed = [r for r in results if r["problems"]]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed or strays else 0


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1]), sys.argv[2], [Path(p) for p in sys.argv[3:]]))
