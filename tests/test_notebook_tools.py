import json
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from vaecf import notebook


def test_record_metrics_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("VAECF_METRICS_DIR", str(tmp_path))
    path = notebook.record_metrics("01_x", {"ndcg": 0.5, "beats": True})
    assert json.loads(path.read_text())["metrics"] == {"ndcg": 0.5, "beats": True}


def test_train_or_load_computes_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VAECF_SMOKE", "0")
    calls = []
    compute = lambda: calls.append(1) or {"value": 3}  # noqa: E731
    first = notebook.train_or_load(tmp_path / "r.pkl", compute, "sweep")
    second = notebook.train_or_load(tmp_path / "r.pkl", compute, "sweep")
    assert first == second == {"value": 3} and len(calls) == 1
    assert "Loaded the sweep" in capsys.readouterr().out


@pytest.mark.parametrize("stale", [b"cvaecf.moved_away\nSweep\n.", b"\x80\x04\x95\x10"],
                         ids=["a module that moved", "a file cut short"])
def test_a_cache_this_version_cannot_read_is_recomputed_and_replaced(tmp_path, monkeypatch, capsys, stale):
    monkeypatch.setenv("VAECF_SMOKE", "0")
    (tmp_path / "r.pkl").write_bytes(stale)
    assert notebook.train_or_load(tmp_path / "r.pkl", lambda: {"value": 4}, "sweep") == {"value": 4}
    assert "cannot be read by this version of vaecf" in capsys.readouterr().out
    assert notebook.train_or_load(tmp_path / "r.pkl", lambda: {"value": 5}, "sweep") == {"value": 4}


def test_smoke_runs_never_touch_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VAECF_SMOKE", "1")
    notebook.train_or_load(tmp_path / "r.pkl", lambda: 1)
    assert not (tmp_path / "r.pkl").exists()


def _bootstrap_cells():
    """The Colab cell of every notebook and assignment (master and student), by file."""
    root = notebook.REPOSITORY_DIR
    paths = [*sorted(notebook.NOTEBOOKS_DIR.glob("*.ipynb")),
             *sorted((root / "assignments").glob("*/*.ipynb"))]
    assert len(paths) > 9, "the notebooks and assignments were not found"
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        yield path, next(c for c in nb.cells if c.cell_type == "code").source


def test_every_notebook_and_assignment_starts_with_the_current_bootstrap():
    for path, source in _bootstrap_cells():
        assert source == notebook.bootstrap_source(), (
            f"{path.name}: run `python -m vaecf.notebook sync` "
            "(and `python -m vaecf.assignments generate` for an assignment)")


def test_every_colab_cell_installs_this_release_by_its_tag():
    """One ref in every cell, the tag of the version the package (and pyproject) declares."""
    pyproject = (notebook.REPOSITORY_DIR / "pyproject.toml").read_text()
    version = re.search(r'^version = "([^"]+)"', pyproject, re.MULTILINE).group(1)
    assert notebook.RELEASE_REF == f"v{version}"
    refs = {re.search(r'git\+\S+@(v[\w.]+)"', source).group(1) for _, source in _bootstrap_cells()}
    assert refs == {notebook.RELEASE_REF}


def test_readme_badges_are_current():
    text = notebook.README.read_text()
    if notebook.BADGES_START in text:
        listed = text.split(notebook.BADGES_START, 1)[1].split(notebook.BADGES_END, 1)[0].strip()
        assert listed == notebook.badges_markdown(), "run `python -m vaecf.notebook sync`"


def test_sync_rewrites_a_stale_bootstrap(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 1. A title"),
                                         nbformat.v4.new_code_cell("# Colab: old")])
    nbformat.write(nb, tmp_path / "01_a.ipynb")
    readme = tmp_path / "README.md"
    readme.write_text(f"x\n{notebook.BADGES_START}\n{notebook.BADGES_END}\ny\n")
    changed = notebook.sync("https://github.com/someone/fork", tmp_path, readme)
    assert len(changed) == 2
    assert "someone/fork" in nbformat.read(tmp_path / "01_a.ipynb", as_version=4).cells[1].source
    assert "colab.research.google.com/github/someone/fork/blob/main/notebooks/01_a.ipynb" in readme.read_text()


def test_every_output_lives_in_the_checkout_or_beside_the_notebook(tmp_path, monkeypatch):
    """In a clone every notebook shares the repository's ignored data/cache and
    notebooks/metrics, from whichever folder it runs; an installed copy (Colab) keeps both
    inside the folder the notebook runs in, never above it."""
    for variable in ("VAECF_METRICS_DIR", "VAECF_CACHE_DIR"):
        monkeypatch.delenv(variable, raising=False)
    clone = tmp_path / "clone"
    (clone / "notebooks").mkdir(parents=True)
    (clone / "vaecf").mkdir()
    monkeypatch.setattr(notebook, "REPOSITORY_DIR", clone)
    monkeypatch.chdir(clone / "notebooks")
    assert notebook.cache_dir() == Path("..", "data", "cache")
    assert notebook.output_dir("metrics") == Path("metrics")
    monkeypatch.chdir(clone)
    assert notebook.cache_dir() == Path("data", "cache")
    assert notebook.output_dir("metrics") == Path("notebooks", "metrics")

    installed = tmp_path / "site-packages"
    (installed / "vaecf").mkdir(parents=True)
    monkeypatch.setattr(notebook, "REPOSITORY_DIR", installed)
    content = tmp_path / "content"
    content.mkdir()
    monkeypatch.chdir(content)
    for kind in notebook.OUTPUT_KINDS:
        where = (content / notebook.output_dir(kind)).resolve()
        assert where.is_relative_to(content.resolve()) and where != content.resolve(), kind
    assert notebook.record_metrics("01_x", {"a": 1}).resolve() == content / "metrics" / "01_x.json"


def test_an_output_folder_can_be_moved_and_a_wrong_kind_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("VAECF_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert notebook.cache_dir() == tmp_path / "elsewhere"
    with pytest.raises(ValueError, match="cache, metrics"):
        notebook.output_dir("runs")


def test_the_clone_output_folders_are_ignored_by_git():
    """What a notebook writes in a clone must not show up as untracked files."""
    root = notebook.REPOSITORY_DIR
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    for in_clone, _, _ in notebook.OUTPUT_KINDS.values():
        probe = Path(*in_clone) / "probe.json"
        ignored = subprocess.run(["git", "-C", str(root), "check-ignore", "-q", str(probe)])
        assert ignored.returncode == 0, f"{probe.parent} is not in .gitignore"


def test_every_place_that_executes_notebooks_gives_a_timeout():
    """Headless execution can wait for ever (papermill and nbval give no short default), so
    each command and client that executes notebooks here names its own timeout."""
    root = notebook.REPOSITORY_DIR
    makefile = (root / "Makefile").read_text().replace("\\\n", " ")
    commands = [line for line in makefile.splitlines() if "nbconvert" in line or "--nbval" in line]
    assert len(commands) >= 2, "the Makefile's notebooks and test commands were not found"
    for line in commands:
        assert re.search(r"--(ExecutePreprocessor\.timeout|nbval-cell-timeout)=\d+", line), line
    sources = [*(root / "tests").glob("*.py"), *(root / "vaecf").rglob("*.py"),
               *(root / ".ci").glob("*.py")]
    clients = [(path.name, call) for path in sources
               for call in re.findall(r"NotebookClient\([^)]*\)", path.read_text())]
    assert clients, "no NotebookClient call found"
    for name, call in clients:
        assert "timeout=" in call, f"{name}: {call}"
