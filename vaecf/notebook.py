"""What every tutorial notebook shares: the Colab bootstrap, the smoke switch, headline
metrics and recorded claims that tests read back, and train-or-load caching.

A *claim* is a sentence about a run's results whose truth is computed, never typed: the
notebook states what it expects (``text``) and what it would say otherwise, the computed
``holds`` picks the sentence that is true, and both the sentence and its evidence are
recorded, in the notebook's output (so a test can read the committed outputs) and in the
metrics folder (so the smoke run can be checked too).

The repository URL and the release the notebooks install live here and nowhere else:
``python -m vaecf.notebook sync`` writes the bootstrap cell of every notebook (and
``python -m vaecf.assignments generate`` that of every assignment) and the README's "Open
in Colab" badges from them, and a test checks that they agree.
"""
from __future__ import annotations

import json
import os
import pickle
import urllib.request
from pathlib import Path
from typing import Callable

from . import __version__
from .outputs import atomic_write, write_data

__all__ = ["REPO_URL", "RELEASE_REF", "smoke", "output_dir", "cache_dir", "record_metrics",
           "train_or_load", "bootstrap_source",
           "Claims", "CLAIM_MIME", "committed_claims", "claim_is_consistent", "committed_results",
           "strip_widget_state"]

REPO_URL = "https://github.com/vaecf/vaecf"
"""Where the project lives; a fork changes this line and runs ``python -m vaecf.notebook sync``."""

RELEASE_REF = f"v{__version__}"
"""The git tag of this version, which the bootstrap cell installs: a notebook installs the
release it was executed with, not whatever the repository's main branch holds later. Each
release is tagged ``v<version>`` on the commit that sets the version in pyproject.toml."""

METRICS_DIR_ENV = "VAECF_METRICS_DIR"


def smoke() -> bool:
    """True when ``VAECF_SMOKE=1``: every loop shrinks so the test suite runs in minutes."""
    return os.environ.get("VAECF_SMOKE", "0") not in ("", "0", "false", "False")


def bootstrap_source(repo_url: str = REPO_URL, ref: str = RELEASE_REF) -> str:
    """The first code cell of every notebook: on Colab, install the vaecf release ``ref`` (a
    git tag) from the repository, keeping Colab's own torch (it satisfies the declared range)."""
    return (
        f"# Colab: install vaecf {ref} from the repository, keeping Colab's own torch. "
        "Locally: nothing to do.\n"
        "import sys\n"
        "if \"google.colab\" in sys.modules:\n"
        f"    !pip install --quiet \"vaecf @ git+{repo_url}@{ref}\"\n"
    )


def _in_checkout() -> bool:
    """True when vaecf runs from a clone of the repository (an editable install), not a copy
    installed from the package index or from git (as on Colab)."""
    return (REPOSITORY_DIR / "notebooks").is_dir() and (REPOSITORY_DIR / "vaecf").is_dir()


def _near(path: Path) -> Path:
    """``path`` relative to the working folder where that is shorter to read."""
    try:
        return Path(os.path.relpath(path))
    except ValueError:  # another drive on Windows
        return path


OUTPUT_KINDS = {
    # kind: (folder in a clone of the repository (ignored by git), folder beside the
    #        notebook elsewhere, environment variable that overrides both)
    "cache": (("data", "cache"), ("data", "cache"), "VAECF_CACHE_DIR"),
    "metrics": (("notebooks", "metrics"), ("metrics",), METRICS_DIR_ENV),
}
"""Every folder the notebooks write to; :func:`output_dir` is the only place they are chosen."""


def output_dir(kind: str) -> Path:
    """Where the notebooks write ``kind`` of output: ``"cache"`` (trained runs, reloaded by
    the next run) or ``"metrics"`` (headline numbers and claims, read back by the tests).

    In a clone of the repository: its ignored ``data/cache/`` or ``notebooks/metrics/``,
    whichever folder a notebook runs from. Otherwise (an installed copy, as on Colab)
    ``data/cache/`` or ``metrics/`` inside the folder the notebook runs in (on Colab
    ``/content``, where the file pane shows it), never outside it. The environment variable
    of that kind (``VAECF_CACHE_DIR``, ``VAECF_METRICS_DIR``) overrides both.
    """
    if kind not in OUTPUT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(OUTPUT_KINDS)}, got {kind!r}.")
    in_clone, beside, variable = OUTPUT_KINDS[kind]
    if os.environ.get(variable):
        return Path(os.environ[variable])
    return _near(REPOSITORY_DIR.joinpath(*in_clone)) if _in_checkout() else Path(*beside)


def cache_dir() -> Path:
    """Where the notebooks keep trained runs: ``output_dir("cache")``."""
    return output_dir("cache")


def record_metrics(notebook: str, metrics: dict) -> Path:
    """Save a notebook's headline numbers, so a test can check what the notebook claims.

    Values must be JSON numbers, strings or booleans. Returns the file written.
    """
    path = output_dir("metrics") / f"{notebook}.json"
    _write_json(path, {"notebook": notebook, "smoke": smoke(), "metrics": metrics})
    return path


CLAIM_MIME = "application/vnd.vaecf.claim+json"
"""The output type a claim is displayed with (beside its plain text), so tests find it."""


def _write_json(path: Path, payload) -> None:
    write_data(path, json.dumps(payload, indent=2, default=float))


class Claims:
    """The claims one notebook makes about its own results.

    ``claims.add(name, holds, text, otherwise)`` prints ``text`` when ``holds`` is true and
    ``otherwise`` when it is not (without ``otherwise``: ``text`` marked as not shown on this
    run), and records ``{name, holds, text, printed, evidence}``. ``claims.paired(...)``
    does the same for "model a beats model b" from a :class:`vaecf.experiments.comparison.PairedDifference`.
    """

    def __init__(self, notebook: str):
        self.notebook = notebook
        self.records: dict[str, dict] = {}

    def add(self, name: str, holds, text: str, otherwise: str | None = None,
            **evidence) -> bool:
        holds = bool(holds)
        if holds:
            printed = text
        elif otherwise is not None:
            printed = otherwise
        else:
            printed = f"Not shown by this run: {text[0].lower()}{text[1:]}"
        record = {"name": name, "holds": holds, "text": text, "printed": printed,
                  "evidence": json.loads(json.dumps(evidence, default=float))}
        self.records[name] = record
        _write_json(output_dir("metrics") / f"{self.notebook}.claims.json",
                    {"notebook": self.notebook, "smoke": smoke(),
                     "claims": list(self.records.values())})
        _display_claim(record)
        return holds

    def paired(self, name: str, difference, otherwise: str | None = None,
               sigmas: float | None = None, metric: str = "NDCG@100",
               expect: str = "beats") -> bool:
        """Claim that ``difference.a`` beats ``difference.b`` by more than ``sigmas`` paired
        standard errors (``expect="beats"``), that it does not (``expect="does not beat"``:
        level with b, or beaten by it), or that the two are level (``expect="level"``: neither
        beats the other).
        The printed sentence gives the verdict and the numbers either way, followed by
        ``otherwise`` (an explanation) when the claim does not hold."""
        from .experiments.comparison import BEATS_SIGMAS

        if expect not in PAIRED_EXPECTATIONS:
            raise ValueError(f"expect must be one of {', '.join(PAIRED_EXPECTATIONS)}, got {expect!r}.")
        sigmas = BEATS_SIGMAS if sigmas is None else sigmas
        sentence = difference.describe(metric, sigmas) + "."
        note = f"{sentence} {otherwise}" if otherwise else sentence
        holds = _expected(expect, difference.difference, difference.stderr, sigmas)
        return self.add(name, holds, sentence, note,
                        kind="beats", expect=expect, sigmas=sigmas, **difference.evidence())


PAIRED_EXPECTATIONS = ("beats", "does not beat", "level")


def _expected(expect: str, difference: float, stderr: float, sigmas: float) -> bool:
    """Whether a paired difference bears out ``expect`` (one of :data:`PAIRED_EXPECTATIONS`)."""
    beats, beaten = difference > sigmas * stderr, -difference > sigmas * stderr
    return {"beats": beats, "does not beat": not beats, "level": not (beats or beaten)}[expect]


def _display_claim(record: dict) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display({"text/plain": record["printed"], CLAIM_MIME: record}, raw=True)
    else:
        print(record["printed"])


def claim_is_consistent(record: dict) -> bool:
    """Whether a claim's ``holds`` agrees with its evidence, where the evidence decides it:
    a paired claim holds exactly when its difference bears out what it expected (a "beats"
    claim: the difference exceeds ``sigmas`` standard errors)."""
    evidence = record.get("evidence", {})
    if evidence.get("kind") == "beats":
        return record["holds"] == _expected(evidence["expect"], evidence["difference"],
                                            evidence["stderr"], evidence["sigmas"])
    return True


def committed_claims(path: str | os.PathLike) -> list[dict]:
    """Every claim displayed in a saved notebook's outputs, in order."""
    import nbformat

    notebook = nbformat.read(Path(path), as_version=4)
    return [output["data"][CLAIM_MIME]
            for cell in notebook.cells if cell.cell_type == "code"
            for output in cell.get("outputs", [])
            if CLAIM_MIME in output.get("data", {})]


COMMITTED_FILES = ("results.json", "figures.json", "statistics.json")
COMMITTED_URL_ENV = "VAECF_COMMITTED_URL"


def committed_results(dataset: str = "ml-1m", folder: str | Path | None = None,
                      file: str = "results.json") -> dict:
    """Results on real data that the repository keeps in ``docs/<dataset>/``:
    ``results.json`` (``python -m vaecf reproduce``), ``figures.json`` (``python -m vaecf
    figures``) or ``statistics.json`` (``python -m vaecf counts --statistics``); results,
    never data, since MovieLens itself may not be redistributed. Read
    from the repository checkout, or else downloaded from the repository at :data:`REPO_URL`
    as of this release (:data:`RELEASE_REF`), the results the notebooks were executed with;
    ``VAECF_COMMITTED_URL`` replaces that address (a mirror, or ``file://`` a clone)."""
    if file not in COMMITTED_FILES:
        raise ValueError(f"file must be one of {', '.join(COMMITTED_FILES)}, got {file!r}.")
    path = Path(folder) / file if folder is not None else REPOSITORY_DIR / "docs" / dataset / file
    if path.exists():
        return json.loads(path.read_text())
    raw = REPO_URL.replace("https://github.com/", "https://raw.githubusercontent.com/")
    base = os.environ.get(COMMITTED_URL_ENV) or f"{raw}/{RELEASE_REF}"
    url = f"{base.rstrip('/')}/docs/{dataset}/{file}"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError) as error:
        raise FileNotFoundError(
            f"No committed {dataset} results at {path}, and {url} could not be read ({error}). "
            f"Run from a clone of the repository, or pass folder= a folder with {file}."
        ) from None


def train_or_load(path: str | os.PathLike, compute: Callable[[], object], what: str = "result"):
    """Load ``path`` if an earlier run saved it, else ``compute()`` and save it there.

    Says which it did, so a reader knows whether they are looking at a fresh run.
    Smoke runs never read or write the cache. A saved file this version of the package
    cannot read (written before a module it refers to moved, or cut short) is said to be
    stale, recomputed and replaced.
    """
    path = Path(path)
    if smoke():
        return compute()
    if path.exists():
        try:
            with open(path, "rb") as handle:
                value = pickle.load(handle)
        except (ImportError, AttributeError, EOFError, pickle.UnpicklingError) as error:
            print(f"The {what} saved at {path} cannot be read by this version of vaecf "
                  f"({type(error).__name__}: {error}); recomputing them and replacing the file.")
        else:
            print(f"Loaded the {what} saved at {path} (delete the file to recompute it).")
            return value
    value = compute()
    atomic_write(path, lambda handle: pickle.dump(value, handle))
    print(f"Saved the {what} to {path}; the next run loads it instead of recomputing.")
    return value


REPOSITORY_DIR = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = REPOSITORY_DIR / "notebooks"
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


def strip_widget_state(path: str | os.PathLike) -> bool:
    """Remove the saved ipywidgets state from an executed notebook (it is large, and a
    reader's kernel rebuilds the widgets); True when there was some."""
    import nbformat

    notebook = nbformat.read(Path(path), as_version=4)
    if "widgets" not in notebook.metadata:
        return False
    del notebook.metadata["widgets"]
    text = nbformat.writes(notebook)
    write_data(path, text if text.endswith("\n") else text + "\n")  # as nbformat.write does
    return True


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["strip"] and len(sys.argv) > 2:
        for notebook_path in sys.argv[2:]:
            if strip_widget_state(notebook_path):
                print(f"stripped the widget state of {notebook_path}")
    elif sys.argv[1:] == ["sync"]:
        for changed_path in sync():
            print(f"updated {changed_path}")
    else:
        sys.exit("usage: python -m vaecf.notebook sync | strip NOTEBOOK...")
