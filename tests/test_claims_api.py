"""Recorded claims (vaecf.notebook.Claims) and paired comparisons (vaecf.experiments.comparison)."""
import json

import nbformat
import numpy as np
import pytest

from vaecf.experiments.comparison import compare_results, paired_difference, unconverged_models
from vaecf.notebook import CLAIM_MIME, Claims, claim_is_consistent, committed_claims


def test_paired_difference_by_hand():
    a, b = [0.5, 0.7, 0.2, 0.6], [0.4, 0.5, 0.2, 0.3]
    diff = paired_difference(a, b, "A", "B")
    d = np.array([0.1, 0.2, 0.0, 0.3])
    assert diff.difference == pytest.approx(0.15)
    assert diff.stderr == pytest.approx(d.std(ddof=1) / 2)  # sqrt(4 users)
    assert diff.z == pytest.approx(0.15 / (d.std(ddof=1) / 2))
    assert diff.beats() and diff.verdict() == "beats"
    assert paired_difference(b, a).verdict() == "is beaten by"
    assert "A beats B on NDCG@100: 0.5000 vs 0.3500, paired difference +0.1500" in diff.describe()


def test_paired_error_is_smaller_than_the_unpaired_one_when_users_differ_a_lot():
    rng = np.random.default_rng(0)
    hardness = rng.uniform(0, 1, 500)  # users differ far more than the two models do
    a = hardness + rng.normal(0.01, 0.02, 500)
    b = hardness
    diff = paired_difference(a, b)
    unpaired = np.hypot(a.std(ddof=1), b.std(ddof=1)) / np.sqrt(500)
    assert diff.stderr < unpaired / 5
    assert diff.beats() and not diff.difference > 2 * unpaired  # only the paired test sees it


def test_paired_difference_rejects_bad_input():
    with pytest.raises(ValueError, match="same users"):
        paired_difference([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 2 users"):
        paired_difference([1.0], [0.5])
    with pytest.raises(ValueError, match="NaN"):
        paired_difference([1.0, np.nan], [0.5, 0.2])


def test_equal_models_are_level_and_identical_shifts_are_infinitely_clear():
    assert paired_difference([0.3, 0.4], [0.3, 0.4]).verdict() == "is level with"
    assert paired_difference([0.5, 0.5], [0.25, 0.25]).z == np.inf


def test_compare_results_and_unconverged_models():
    results = {"models": {
        "Mult-VAE": {"test_per_user": {"ndcg@100": [0.5, 0.6, 0.7]}, "converged": True},
        "WMF": {"test_per_user": {"ndcg@100": [0.4, 0.6, 0.5]}},
        "AE": {"converged": False}}}
    diff = compare_results(results, "Mult-VAE", "WMF")
    assert diff.difference == pytest.approx(0.1) and diff.n == 3
    with pytest.raises(ValueError, match="no model named EASE"):
        compare_results(results, "Mult-VAE", "EASE")
    with pytest.raises(ValueError, match="per-user"):
        compare_results(results, "Mult-VAE", "AE")
    assert unconverged_models(results) == ["AE"]


def test_a_claim_prints_the_true_sentence_and_records_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VAECF_METRICS_DIR", str(tmp_path))
    claims = Claims("99_example")
    assert claims.add("big", 3 > 2, "Three is larger than two.", "Three is not larger.", a=3)
    assert not claims.add("small", 3 < 2, "Three is smaller than two.", "Three is not smaller.")
    assert not claims.add("bare", False, "The effect appears.")
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["Three is larger than two.", "Three is not smaller.",
                       "Not shown by this run: the effect appears."]
    saved = json.loads((tmp_path / "99_example.claims.json").read_text())["claims"]
    assert [(c["name"], c["holds"]) for c in saved] == [("big", True), ("small", False),
                                                        ("bare", False)]
    assert saved[0]["evidence"] == {"a": 3}


def test_a_paired_claim_carries_its_evidence_and_is_checked_against_it(tmp_path, monkeypatch):
    monkeypatch.setenv("VAECF_METRICS_DIR", str(tmp_path))
    claims = Claims("99_example")
    diff = paired_difference([0.5, 0.7, 0.2, 0.6], [0.4, 0.5, 0.2, 0.3], "VAE", "WMF")
    assert claims.paired("vae_beats_wmf", diff)
    record = claims.records["vae_beats_wmf"]
    assert record["evidence"]["kind"] == "beats" and record["evidence"]["sigmas"] == 2.0
    assert claim_is_consistent(record)
    forged = {**record, "holds": True,
              "evidence": {**record["evidence"], "difference": 0.001}}
    assert not claim_is_consistent(forged)
    level = paired_difference([0.5, 0.4], [0.4, 0.5], "VAE", "DAE")
    assert not claims.paired("vae_beats_dae", level, otherwise="Here they tie.")
    assert claims.records["vae_beats_dae"]["printed"].endswith("Here they tie.")
    assert claims.paired("vae_level_with_dae", level, expect="does not beat")
    assert claim_is_consistent(claims.records["vae_level_with_dae"])
    assert claims.paired("vae_and_dae_level", level, expect="level")
    # a model that is beaten "does not beat" the other, but the two are not level
    beaten = paired_difference([0.4, 0.5, 0.2, 0.3], [0.5, 0.7, 0.2, 0.6], "WMF", "VAE")
    assert claims.paired("wmf_does_not_beat_vae", beaten, expect="does not beat")
    assert not claims.paired("wmf_level_with_vae", beaten, expect="level")
    assert not claims.paired("vae_level_with_wmf", diff, expect="level")
    for name in ("vae_and_dae_level", "wmf_does_not_beat_vae", "wmf_level_with_vae", "vae_level_with_wmf"):
        assert claim_is_consistent(claims.records[name])
    forged_level = {**claims.records["wmf_level_with_vae"], "holds": True}
    assert not claim_is_consistent(forged_level)
    with pytest.raises(ValueError, match="expect must be one of"):
        claims.paired("typo", level, expect="beat")


def test_committed_claims_are_read_from_a_notebooks_outputs(tmp_path):
    record = {"name": "x", "holds": True, "text": "t", "printed": "t", "evidence": {}}
    cell = nbformat.v4.new_code_cell("claims.add(...)", outputs=[
        nbformat.v4.new_output("display_data", data={"text/plain": "t", CLAIM_MIME: record}),
        nbformat.v4.new_output("stream", name="stdout", text="other output\n")])
    path = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T"), cell]), path)
    assert committed_claims(path) == [record]


def test_side_by_side_puts_the_paper_the_authors_code_and_our_runs_in_columns():
    from vaecf.experiments.comparison import side_by_side

    run = {"models": {"Mult-VAE": {"test": {"ndcg@100": 0.61}}, "Oracle": {"test": {"ndcg@100": 0.7}}}}
    table = side_by_side({"this run": run})
    assert list(table.columns) == ["paper, ML-20M", "authors' code, ML-1M", "this run"]
    assert table.loc["Mult-VAE"].tolist() == [0.426, 0.402, 0.61]
    assert np.isnan(table.loc["Oracle", "paper, ML-20M"]) and table.loc["Oracle", "this run"] == 0.7
    assert np.isnan(table.loc["WMF", "this run"])


def test_committed_results_are_read_from_a_folder_or_refused_clearly(tmp_path, monkeypatch):
    from vaecf import notebook

    (tmp_path / "results.json").write_text(json.dumps({"dataset": "ml-1m", "models": {}}))
    (tmp_path / "figures.json").write_text(json.dumps({"annealing": {}}))
    assert notebook.committed_results("ml-1m", folder=tmp_path)["dataset"] == "ml-1m"
    assert "annealing" in notebook.committed_results("ml-1m", folder=tmp_path, file="figures.json")
    with pytest.raises(ValueError, match="results.json, figures.json, statistics.json"):
        notebook.committed_results("ml-1m", file="../secret")

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(notebook.urllib.request, "urlopen", offline)
    with pytest.raises(FileNotFoundError, match="No committed ml-1m results"):
        notebook.committed_results("ml-1m", folder=tmp_path / "absent")


def test_committed_results_are_fetched_as_of_this_release_or_from_a_set_address(
        tmp_path, monkeypatch):
    """An installed copy (Colab) reads the results of its own release, not of main."""
    from vaecf import notebook

    monkeypatch.setattr(notebook, "REPOSITORY_DIR", tmp_path / "site-packages")
    asked = []

    def record(url, timeout):
        asked.append(url)
        raise OSError("offline")

    monkeypatch.setattr(notebook.urllib.request, "urlopen", record)
    monkeypatch.delenv("VAECF_COMMITTED_URL", raising=False)
    with pytest.raises(FileNotFoundError):
        notebook.committed_results("ml-1m", file="figures.json")
    raw = notebook.REPO_URL.replace("https://github.com/", "https://raw.githubusercontent.com/")
    assert asked == [f"{raw}/{notebook.RELEASE_REF}/docs/ml-1m/figures.json"]
    monkeypatch.undo()
    clone = tmp_path / "clone"
    (clone / "docs" / "ml-1m").mkdir(parents=True)
    (clone / "docs" / "ml-1m" / "results.json").write_text('{"dataset": "ml-1m"}')
    monkeypatch.setattr(notebook, "REPOSITORY_DIR", tmp_path / "site-packages")
    monkeypatch.setenv("VAECF_COMMITTED_URL", clone.as_uri())
    assert notebook.committed_results("ml-1m") == {"dataset": "ml-1m"}


def test_saved_widget_state_is_stripped(tmp_path):
    from vaecf.notebook import strip_widget_state

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    path = tmp_path / "nb.ipynb"
    nbformat.write(notebook, path)
    assert strip_widget_state(path) and "widgets" not in nbformat.read(path, 4).metadata
    assert not strip_widget_state(path)
