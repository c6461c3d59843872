"""The README's ML-1M tables state what the committed runs in docs/ recorded."""
import json
import re
from pathlib import Path

import pytest

from vaecf.experiments.comparison import BEATS_SIGMAS, compare_results

ROOT = Path(__file__).resolve().parents[1]


def _rows(start: str, end: str) -> dict:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split(start)[1].split(end)[0]
    return {line.split("|")[1].strip(): line.split("|")[-2].strip()
            for line in table.strip().splitlines()[2:]}


def test_the_tuned_table_is_the_committed_tuned_run():
    results = json.loads((ROOT / "docs" / "ml-1m-tuned" / "results.json").read_text())
    rows = _rows("<!-- tuned:start -->", "<!-- tuned:end -->")
    assert rows, "the README has no tuned table between its markers"
    for model, cell in rows.items():
        entry = results["models"][model]
        assert cell == f"{entry['test']['ndcg@100']:.3f} ± {entry['test_stderr']['ndcg@100']:.3f}", model
    chosen = {name: search["chosen"] for name, search in results["tuning"].items()}
    assert chosen["WMF"] == {"n_factors": 200, "l2": 100.0, "alpha": 10.0}
    assert chosen["EASE"] == {"l2": 500.0} and chosen["Mult-VAE"] == {"beta_cap": 0.73}
    assert chosen["Mult-DAE"] == {"dropout": 0.5, "l2": pytest.approx(0.0002)}


@pytest.mark.parametrize("a, b, stated", [("RecVAE", "Mult-VAE", "+0.016 ± 0.003"),
                                          ("WMF", "RecVAE", "+0.012 ± 0.004")])
def test_the_paired_differences_the_readme_states_are_the_committed_ones(a, b, stated):
    results = json.loads((ROOT / "docs" / "ml-1m-tuned" / "results.json").read_text())
    difference = compare_results(results, a, b)
    assert f"{difference.difference:+.3f} ± {difference.stderr:.3f}" == stated
    assert difference.beats()
    assert re.search(re.escape(stated), (ROOT / "README.md").read_text(encoding="utf-8"))


def test_recvae_at_its_defaults_is_level_with_the_tuned_mult_dae_as_the_readme_states():
    results = json.loads((ROOT / "docs" / "ml-1m-tuned" / "results.json").read_text())
    difference = compare_results(results, "RecVAE", "Mult-DAE")
    stated = f"{difference.difference:.3f} ± {difference.stderr:.3f}".replace("-", "−")
    assert stated == "−0.004 ± 0.004"
    assert not difference.beats() and -difference.z <= BEATS_SIGMAS
    assert f"level with the tuned\nMult-DAE ({stated})" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_choices_the_readme_says_lie_at_an_end_of_their_grids_do():
    from vaecf.experiments.tuning import edge_of_grid

    results = json.loads((ROOT / "docs" / "ml-1m-tuned" / "results.json").read_text())
    edges = {name: set(edge_of_grid(search["grid"], search["chosen"]))
             for name, search in results["tuning"].items()}
    assert edges == {"WMF": {"n_factors", "alpha"}, "Mult-DAE": {"dropout", "l2"}, "EASE": set(),
                     "Mult-VAE": set()}
    assert "WMF's size and α and both of Mult-DAE's settings were chosen at an end of their grids" in \
        (ROOT / "README.md").read_text(encoding="utf-8").replace("\n", " ")


def test_tuning_moved_wmf_and_mult_dae_by_less_than_a_standard_error_and_wmf_beats_every_autoencoder():
    tuned = json.loads((ROOT / "docs" / "ml-1m-tuned" / "results.json").read_text())
    fixed = json.loads((ROOT / "docs" / "ml-1m" / "results.json").read_text())
    assert tuned["split_fingerprint"] == fixed["split_fingerprint"]
    for model in ("WMF", "Mult-DAE"):
        gain = tuned["models"][model]["test"]["ndcg@100"] - fixed["models"][model]["test"]["ndcg@100"]
        assert 0 < gain < tuned["models"][model]["test_stderr"]["ndcg@100"], model
    for autoencoder in ("AE", "Mult-DAE", "Mult-VAE", "RecVAE"):
        assert compare_results(tuned, "WMF", autoencoder).beats(), autoencoder


@pytest.mark.parametrize("a, b, verdict", [("WMF", "Mult-DAE", "beats"), ("WMF", "Mult-VAE", "beats"),
                                           ("EASE", "Mult-VAE", "beats"), ("EASE", "Mult-DAE", "level"),
                                           ("Mult-DAE", "Mult-VAE", "beats")])
def test_the_verdicts_on_the_fixed_settings_table(a, b, verdict):
    """"WMF beats both autoencoders, EASE beats Mult-VAE and is level with Mult-DAE, and
    Mult-DAE beats Mult-VAE" (the README, under its ML-1M table)."""
    results = json.loads((ROOT / "docs" / "ml-1m" / "results.json").read_text())
    difference = compare_results(results, a, b)
    assert difference.beats() if verdict == "beats" else not (difference.beats() or -difference.z > BEATS_SIGMAS)
