import json

import numpy as np
import pytest

import vaecf
from vaecf.cli import main
from vaecf.data import make_synthetic, paper_split
from vaecf.figures import CAPS, LIKELIHOOD_ORDER, dataset_figures, plot_likelihoods


@pytest.fixture(scope="module")
def figures_of_a_tiny_run():
    table, _ = make_synthetic(n_users=300, n_items=120, seed=0, mean_clicks=12)
    split = paper_split(table, n_heldout=30, seed=0)
    return split, dataset_figures(split, epochs=2, seed=0, device="cpu", progress=False)


def test_every_figure_and_its_numbers(figures_of_a_tiny_run):
    split, (numbers, figures) = figures_of_a_tiny_run
    assert set(figures) == {"annealing_curve", "beta_sweep", "likelihoods", "ndcg_by_activity"}
    assert numbers["beta_caps"]["caps"] == list(CAPS)
    assert list(numbers["likelihoods"]["test_ndcg@100"]) == list(LIKELIHOOD_ORDER)
    annealing = numbers["annealing"]
    assert annealing["best_val_ndcg@100"] == max(annealing["val_ndcg@100"])
    assert annealing["betas"][-1] == pytest.approx(1.0)  # annealed with no cap, up to β = 1
    for name in ("Mult-DAE", "Mult-VAE"):
        assert len(numbers["activity"][name]["mean"]) == 5
        assert all(0 <= v <= 1 for v in numbers["activity"][name]["mean"])


def test_likelihood_bars_carry_the_scores():
    fig = plot_likelihoods({"multinomial": 0.4, "gaussian": 0.3}, {"multinomial": 0.01, "gaussian": 0.01},
                           floor=0.2)
    ax = fig.axes[0]
    np.testing.assert_allclose([p.get_height() for p in ax.patches], [0.4, 0.3])
    assert "popularity 0.200" in ax.get_legend().get_texts()[0].get_text()


def test_figures_command_writes_pngs_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "figs"
    args = ["figures", "--size", "tiny", "--epochs", "1", "--out", str(out), "--quiet"]
    assert main(args) == 0
    written = json.loads((out / "figures.json").read_text())
    assert written["dataset"] == "synthetic" and written["epochs"] == 1
    assert written["vaecf_version"] == vaecf.__version__
    assert all((out / f"{n}.png").stat().st_size > 0
               for n in ("annealing_curve", "beta_sweep", "likelihoods", "ndcg_by_activity"))
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
