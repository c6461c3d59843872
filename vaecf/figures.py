"""The figures docs/results.md shows for a dataset: the annealing curve, NDCG@100 by user
activity, the β-cap sweep and the likelihood comparison, each computed with the package's
own analyses (``python -m vaecf figures --dataset ml-1m``).

It trains: one Mult-VAE annealed with no cap for ``epochs`` epochs, and, each to a
validation plateau, one Mult-VAE per β cap (the cap-0.2 run is also the multinomial
Mult-VAE of the likelihood and activity comparisons), one per other likelihood, and a
Mult-DAE for the activity comparison. The numbers keep each kept model's per-user
NDCG@100, so every comparison can be made paired.
Returns the numbers and the figures; the command line writes them to disk.
"""
from __future__ import annotations


import matplotlib.pyplot as plt
import numpy as np
import torch

from .experiments.analysis import activity_breakdown, ndcg_by_activity
from .experiments.annealing import anneal_without_cap, cap_sweep, choose_beta, train_caps
from .data import Split
from .metrics import evaluate
from .models import MultDAE, MultVAE, Popularity
from .plots.results import plot_ndcg_by_activity
from .plots.annealing import plot_annealing_curve, plot_cap_sweep
from .experiments.reproduce import rounded, summarise
from .train import PAPER_RUN_EPOCHS, TrainConfig, choose_device, fit

__all__ = ["CAPS", "LIKELIHOOD_ORDER", "activity_numbers", "dataset_figures", "plot_likelihoods"]

CAPS = (0.0, 0.1, 0.2, 0.5, 1.0)
LIKELIHOOD_ORDER = ("multinomial", "logistic", "gaussian")


def plot_likelihoods(scores: dict, errors: dict, floor: float | None = None):
    """Test NDCG@100 (± 2 s.e.) of Mult-VAE with each likelihood, popularity as a line."""
    names = list(scores)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.bar(names, [scores[n] for n in names], yerr=[2 * errors[n] for n in names], capsize=4,
           color=["tab:blue", "tab:orange", "tab:green"][:len(names)])
    for i, name in enumerate(names):
        ax.text(i, scores[name], f"{scores[name]:.3f}\n", ha="center", va="bottom")
    if floor is not None:
        ax.axhline(floor, color="grey", ls="--", label=f"popularity {floor:.3f}")
        ax.legend(loc="lower right")
    ax.set(xlabel="likelihood of the VAE (paper eqs. 2–4)", ylabel="test NDCG@100 (± 2 s.e.)",
           title="One network, three likelihoods: test NDCG@100")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def _test_ndcg(model, split):
    return evaluate(model.score, split.test_fold_in, split.test_target, ks_recall=())["ndcg@100"]


def activity_numbers(breakdowns: dict, fold_in_clicks: np.ndarray) -> dict:
    """The ``activity`` entry of ``figures.json``: per model the groups' labels, means and
    errors, and per test user NDCG@100, group and fold-in clicks (so the groups can be
    recomputed from the file alone)."""
    return {name: {"labels": b.labels(), "mean": b.mean.tolist(), "stderr": b.stderr.tolist(),
                   "ndcg": rounded(b.ndcg), "group": b.group.tolist(),
                   "fold_in_clicks": np.asarray(fold_in_clicks).tolist()}
            for name, b in breakdowns.items()}


def dataset_figures(split: Split, epochs: int | None = None, seed: int = 98765, device=None,
                    progress: bool = True) -> tuple[dict, dict]:
    """Train what the four figures need and return ``(numbers, {name: Figure})``.

    ``epochs=None``: the annealing run takes the paper's 200 epochs and every other run
    stops on its validation plateau; a number fixes every run's epochs (a quick look).
    """
    device = choose_device(device)
    config = TrainConfig(epochs=epochs or PAPER_RUN_EPOCHS, seed=seed)
    numbers, figures = {}, {}

    curve, _ = anneal_without_cap(split, epochs=config.epochs, config=config, seed=seed, device=device,
                                  progress=progress)
    choice = choose_beta([curve])
    numbers["annealing"] = {"best_beta": curve.best_beta, "best_val_ndcg@100": curve.best_score,
                            "smoothed_best_beta": choice.beta, "window_epochs": choice.window,
                            "betas": curve.betas.tolist(), "val_ndcg@100": curve.scores.tolist()}
    fig, ax = plt.subplots(figsize=(7, 4))
    plot_annealing_curve(curve, ax=ax)
    fig.tight_layout()
    figures["annealing_curve"] = fig

    converge = TrainConfig(epochs=epochs, seed=seed)  # None: each to a validation plateau
    caps = train_caps(split, CAPS, converge, device=device, progress=progress)
    sweep = cap_sweep(caps)
    numbers["beta_caps"] = {"caps": sweep.caps.tolist(), "best_val_ndcg@100": sweep.best_scores.tolist(),
                            "kl": sweep.kl.tolist(),
                            "valid_per_user": {str(c): rounded(v) for c, v in caps.valid_ndcg.items()},
                            "test_per_user": {str(c): rounded(v) for c, v in caps.test_ndcg.items()}}
    figures["beta_sweep"] = plot_cap_sweep(sweep)

    per_user = {"multinomial": caps.test_ndcg[converge.beta_cap]}  # the paper's cap, 0.2
    for likelihood in LIKELIHOOD_ORDER[1:]:
        torch.manual_seed(seed)
        model = MultVAE(split.n_items, likelihood=likelihood).to(device)
        fit(model, split, converge, progress=progress)
        per_user[likelihood] = _test_ndcg(model, split)
    scores, errors = summarise({likelihood: per_user[likelihood] for likelihood in LIKELIHOOD_ORDER})
    floor = float(_test_ndcg(Popularity().fit(split.train), split).mean())
    numbers["likelihoods"] = {"test_ndcg@100": scores, "stderr": errors, "popularity": floor,
                              "test_per_user": {k: rounded(v) for k, v in per_user.items()}}
    figures["likelihoods"] = plot_likelihoods(scores, errors, floor)

    torch.manual_seed(seed)
    dae = MultDAE(split.n_items).to(device)
    fit(dae, split, converge, progress=progress)
    breakdowns = {"Mult-DAE": ndcg_by_activity(dae.score, split.test_fold_in, split.test_target),
                  "Mult-VAE": activity_breakdown(per_user["multinomial"], split.test_fold_in)}
    numbers["activity"] = activity_numbers(breakdowns, np.diff(split.test_fold_in.indptr))
    figures["ndcg_by_activity"] = plot_ndcg_by_activity(breakdowns)
    return numbers, figures
