"""The figures the README shows for a dataset: the annealing curve, NDCG@100 by user
activity, the β-cap sweep and the likelihood comparison, each computed with the package's
own analyses (``python -m vaecf figures --dataset ml-1m``).

It trains: one Mult-VAE annealed with no cap, one per β cap, one per likelihood, and a
Mult-DAE for the activity comparison. Returns the numbers and the figures; the command
line writes them to disk.
"""
from __future__ import annotations


import matplotlib.pyplot as plt
import numpy as np
import torch

from .analysis import ndcg_by_activity
from .annealing import anneal_without_cap, cap_sweep, sweep_beta_caps
from .data import Split
from .metrics import evaluate
from .models import MultDAE, MultVAE, Popularity
from .plots import plot_ndcg_by_activity
from .plots_annealing import plot_annealing_curve, plot_cap_sweep
from .train import TrainConfig, choose_device, fit

__all__ = ["CAPS", "LIKELIHOOD_ORDER", "dataset_figures", "plot_likelihoods"]

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
    values = evaluate(model.score, split.test_fold_in, split.test_target, ks_recall=())["ndcg@100"]
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size))


def dataset_figures(split: Split, epochs: int, seed: int = 98765, device=None,
                    progress: bool = True) -> tuple[dict, dict]:
    """Train what the four figures need and return ``(numbers, {name: Figure})``."""
    device = choose_device(device)
    config = TrainConfig(epochs=epochs, seed=seed)
    numbers, figures = {}, {}

    curve, _ = anneal_without_cap(split, epochs=epochs, config=config, seed=seed, device=device,
                                  progress=progress)
    numbers["annealing"] = {"best_beta": curve.best_beta, "best_val_ndcg@100": curve.best_score,
                            "betas": curve.betas.tolist(), "val_ndcg@100": curve.scores.tolist()}
    fig, ax = plt.subplots(figsize=(7, 4))
    plot_annealing_curve(curve, ax=ax)
    fig.tight_layout()
    figures["annealing_curve"] = fig

    sweep = cap_sweep(sweep_beta_caps(split, CAPS, config, device=device, progress=progress))
    numbers["beta_caps"] = {"caps": sweep.caps.tolist(), "best_val_ndcg@100": sweep.best_scores.tolist(),
                            "kl": sweep.kl.tolist()}
    figures["beta_sweep"] = plot_cap_sweep(sweep)

    trained, scores, errors = {}, {}, {}
    for likelihood in LIKELIHOOD_ORDER:
        torch.manual_seed(seed)
        model = MultVAE(split.n_items, likelihood=likelihood).to(device)
        fit(model, split, config, progress=progress)
        trained[likelihood] = model
        scores[likelihood], errors[likelihood] = _test_ndcg(model, split)
    floor = _test_ndcg(Popularity().fit(split.train), split)[0]
    numbers["likelihoods"] = {"test_ndcg@100": scores, "stderr": errors, "popularity": floor}
    figures["likelihoods"] = plot_likelihoods(scores, errors, floor)

    torch.manual_seed(seed)
    dae = MultDAE(split.n_items).to(device)
    fit(dae, split, config, progress=progress)
    breakdowns = {name: ndcg_by_activity(model.score, split.test_fold_in, split.test_target)
                  for name, model in (("Mult-DAE", dae), ("Mult-VAE", trained["multinomial"]))}
    numbers["activity"] = {name: {"labels": b.labels(), "mean": b.mean.tolist(),
                                  "stderr": b.stderr.tolist()} for name, b in breakdowns.items()}
    figures["ndcg_by_activity"] = plot_ndcg_by_activity(breakdowns)
    return numbers, figures
