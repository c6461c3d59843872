"""What every tutorial notebook shares: the Colab bootstrap, the smoke switch, headline
metrics that a test reads back, and train-or-load caching.

The repository URL lives here and nowhere else: ``python -m vaecf.notebook sync`` writes
the bootstrap cell of every notebook and the README's "Open in Colab" badges from it, and
a test checks that they agree.
"""
from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Callable

__all__ = ["REPO_URL", "smoke", "record_metrics", "train_or_load", "bootstrap_source"]

REPO_URL = "https://github.com/vaecf/vaecf"
"""Where the project lives; a fork changes this line and runs ``python -m vaecf.notebook sync``."""

METRICS_DIR_ENV = "VAECF_METRICS_DIR"


def smoke() -> bool:
    """True when ``VAECF_SMOKE=1``: every loop shrinks so the test suite runs in minutes."""
    return os.environ.get("VAECF_SMOKE", "0") not in ("", "0", "false", "False")


def bootstrap_source(repo_url: str = REPO_URL) -> str:
    """The first code cell of every notebook: install vaecf on Colab, keep Colab's torch."""
    return (
        "# Colab: install vaecf from the repository, keeping Colab's own torch. Locally: nothing to do.\n"
        "import sys\n"
        "if \"google.colab\" in sys.modules:\n"
        f"    !pip install --quiet \"vaecf @ git+{repo_url}\"\n"
    )


def _metrics_dir() -> Path:
    return Path(os.environ.get(METRICS_DIR_ENV, Path.cwd() / "metrics"))


def record_metrics(notebook: str, metrics: dict) -> Path:
    """Save a notebook's headline numbers, so a test can check what the notebook claims.

    Values must be JSON numbers, strings or booleans. Returns the file written.
    """
    folder = _metrics_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{notebook}.json"
    payload = {"notebook": notebook, "smoke": smoke(), "metrics": metrics}
    path.write_text(json.dumps(payload, indent=2, default=float))
    return path


def train_or_load(path: str | os.PathLike, compute: Callable[[], object], what: str = "result"):
    """Load ``path`` if an earlier run saved it, else ``compute()`` and save it there.

    Says which it did, so a reader knows whether they are looking at a fresh run.
    Smoke runs never read or write the cache.
    """
    path = Path(path)
    if smoke():
        return compute()
    if path.exists():
        with open(path, "rb") as handle:
            value = pickle.load(handle)
        print(f"Loaded the {what} saved at {path} (delete the file to recompute it).")
        return value
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        pickle.dump(value, handle)
    os.replace(tmp, path)
    print(f"Saved the {what} to {path}; the next run loads it instead of recomputing.")
    return value


NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
README = Path(__file__).resolve().parents[1] / "README.md"
BADGES_START, BADGES_END = "<!-- notebooks:start -->", "<!-- notebooks:end -->"


def _title(notebook) -> str:
    first = notebook.cells[0].source.splitlines()[0] if notebook.cells else ""
    return first.lstrip("# ").strip()


def badges_markdown(repo_url: str = REPO_URL, folder: Path = NOTEBOOKS_DIR) -> str:
    """One README line per numbered notebook, with its "Open in Colab" badge."""
    import nbformat

    colab = repo_url.replace("https://github.com/", "https://colab.research.google.com/github/")
    lines = []
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        title = _title(nbformat.read(path, as_version=4))
        lines.append(f"- [{title}](notebooks/{path.name}) "
                     f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
                     f"({colab}/blob/main/notebooks/{path.name})")
    return "\n".join(lines)


def sync(repo_url: str = REPO_URL, folder: Path = NOTEBOOKS_DIR, readme: Path = README) -> list:
    """Rewrite every notebook's bootstrap cell and the README badges from ``repo_url``.

    The bootstrap is the first code cell; it must start with the "# Colab:" comment.
    Returns the files that changed.
    """
    import nbformat

    changed = []
    for path in sorted(folder.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        if not code or not code[0].source.startswith("# Colab:"):
            raise ValueError(f"{path}: the first code cell must be the Colab bootstrap.")
        if code[0].source != bootstrap_source(repo_url):
            code[0].source = bootstrap_source(repo_url)
            nbformat.write(notebook, path)
            changed.append(path)
    text = readme.read_text()
    if BADGES_START in text:
        head, rest = text.split(BADGES_START, 1)
        _, tail = rest.split(BADGES_END, 1)
        new = f"{head}{BADGES_START}\n{badges_markdown(repo_url, folder)}\n{BADGES_END}{tail}"
        if new != text:
            readme.write_text(new)
            changed.append(readme)
    return changed


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["sync"]:
        sys.exit("usage: python -m vaecf.notebook sync")
    for changed_path in sync():
        print(f"updated {changed_path}")
