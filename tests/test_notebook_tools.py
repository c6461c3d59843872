import json

import nbformat

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


def test_smoke_runs_never_touch_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VAECF_SMOKE", "1")
    notebook.train_or_load(tmp_path / "r.pkl", lambda: 1)
    assert not (tmp_path / "r.pkl").exists()


def test_every_notebook_starts_with_the_current_bootstrap():
    for path in sorted(notebook.NOTEBOOKS_DIR.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        first_code = next(c for c in nb.cells if c.cell_type == "code")
        assert first_code.source == notebook.bootstrap_source(), (
            f"{path.name}: run `python -m vaecf.notebook sync`")


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


def test_cache_and_metrics_live_in_the_checkout_or_beside_the_notebook(tmp_path, monkeypatch):
    """In a clone every notebook shares the repository's ignored data/cache and
    notebooks/metrics, from whichever folder it runs; an installed copy (Colab) keeps both
    inside the folder the notebook runs in."""
    from pathlib import Path

    monkeypatch.delenv("VAECF_METRICS_DIR", raising=False)
    clone = tmp_path / "clone"
    (clone / "notebooks").mkdir(parents=True)
    (clone / "vaecf").mkdir()
    monkeypatch.setattr(notebook, "REPOSITORY_DIR", clone)
    monkeypatch.chdir(clone / "notebooks")
    assert notebook.cache_dir() == Path("..", "data", "cache")
    assert notebook._metrics_dir() == clone / "notebooks" / "metrics"
    monkeypatch.chdir(clone)
    assert notebook.cache_dir() == Path("data", "cache")
    assert notebook._metrics_dir() == clone / "notebooks" / "metrics"

    installed = tmp_path / "site-packages"
    (installed / "vaecf").mkdir(parents=True)
    monkeypatch.setattr(notebook, "REPOSITORY_DIR", installed)
    content = tmp_path / "content"
    content.mkdir()
    monkeypatch.chdir(content)
    assert notebook.cache_dir() == Path("data", "cache")
    assert notebook._metrics_dir() == content / "metrics"
