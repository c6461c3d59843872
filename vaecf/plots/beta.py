"""Notebook 6's and the β-slider demo's figures for the β-ELBO (paper eq. 6): what the KL
weight β does, and KL annealing.

Pure functions of a :class:`vaecf.experiments.beta_sweep.BetaSweep` or a training history: they
never train, so a slider can call them on every move (each returns a new Figure).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .results import scatter_coloured

__all__ = ["plot_beta_effect", "plot_annealing", "PANEL_TITLES"]

PANEL_TITLES = {
    "rate_distortion": "Rate–distortion: each β's KL against its distortion",
    "ndcg": "Validation NDCG@100 against β",
    "latent": "Validation users' posterior means μ (PCA)",
    "anneal_beta": "KL annealing: β grows linearly with the training step",
    "anneal_ndcg": "Validation NDCG@100 while β is annealed",
}


def _short(title: str) -> str:
    return title.split(":")[0]


def plot_beta_effect(sweep, beta: float | None = None, colour_by: str | None = None,
                     fixed_axes: bool = True):
    """Three panels for one β of a sweep: rate vs distortion, NDCG@100 vs β, latent μ.

    Args:
        sweep: a :class:`vaecf.experiments.beta_sweep.BetaSweep`.
        beta: the β to show (one of ``sweep.betas``); default the best on validation.
        colour_by: a key of ``sweep.properties``; default the first.
        fixed_axes: use the same latent-panel limits for every β, so the posterior means
            visibly shrink towards the prior's 0 as β grows.
    """
    beta = sweep.best_beta if beta is None else float(beta)
    i = sweep.index(beta)
    names = list(sweep.properties)
    colour_by = names[0] if colour_by is None else colour_by
    if colour_by not in sweep.properties:
        raise KeyError(f"no user property {colour_by!r}; choose one of {names}.")

    fig, (ax_rd, ax_ndcg, ax_lat) = plt.subplots(1, 3, figsize=(15, 4.6))
    # 1. rate (KL) against distortion (reconstruction), one point per β
    ax_rd.plot(sweep.kl, sweep.reconstruction, "-o", color="tab:blue", ms=5, zorder=2)
    for b, x, y in zip(sweep.betas, sweep.kl, sweep.reconstruction):
        ax_rd.annotate(f"β={b:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax_rd.scatter([sweep.kl[i]], [sweep.reconstruction[i]], s=160, marker="*",
                  color="tab:red", zorder=3, label=f"β = {beta:g}")
    if np.all(sweep.kl > 0) and sweep.kl.max() / sweep.kl.min() > 20:
        ax_rd.set_xscale("log")
    ax_rd.ticklabel_format(axis="y", useOffset=False)
    ax_rd.set(xlabel="KL(q(z|x) ‖ p(z)) per user, nats  (rate)",
              ylabel="−E_q[log p(x|z)] per user, nats  (distortion)",
              title=_short(PANEL_TITLES["rate_distortion"]))
    ax_rd.legend(loc="upper right")

    # 2. validation NDCG@100 against β, current and best marked
    best = int(np.argmax(sweep.ndcg))
    ax_ndcg.plot(sweep.betas, sweep.ndcg, "-o", color="tab:blue", ms=5)
    ax_ndcg.axvline(beta, color="tab:red", ls="--", lw=1)
    ax_ndcg.scatter([beta], [sweep.ndcg[i]], s=160, marker="*", color="tab:red", zorder=3,
                    label=f"β = {beta:g}: {sweep.ndcg[i]:.3f}")
    ax_ndcg.scatter([sweep.betas[best]], [sweep.ndcg[best]], s=90, facecolors="none",
                    edgecolors="black", zorder=4, label=f"best β = {sweep.betas[best]:g}")
    ax_ndcg.set(xlabel="β (KL weight, held constant in training)", ylabel="validation NDCG@100",
                title=PANEL_TITLES["ndcg"])
    ax_ndcg.legend(loc="lower left")

    # 3. the validation users' μ on its first two principal axes
    scatter_coloured(ax_lat, sweep.latent[i], sweep.properties[colour_by], colour_by)
    if fixed_axes:
        reach = float(np.abs(sweep.latent).max()) * 1.05 or 1.0
        ax_lat.set(xlim=(-reach, reach), ylim=(-reach, reach))
    share = sweep.explained[i]
    ax_lat.set(xlabel=f"principal axis 1 ({share[0]:.0%} of variance)",
               ylabel=f"principal axis 2 ({share[1]:.0%} of variance)",
               title=f"{PANEL_TITLES['latent']}, β = {beta:g}")
    fig.suptitle(f"β = {beta:g}: KL {sweep.kl[i]:.1f} nats, distortion −E[log p(x|z)] "
                 f"{sweep.reconstruction[i]:.1f} nats, validation NDCG@100 {sweep.ndcg[i]:.3f}"
                 " (the β slider shows the others)",
                 fontsize=11)
    fig.tight_layout()
    return fig


def plot_annealing(history: list, epoch: int | None = None, metric: str = "val_ndcg@100"):
    """The paper's annealing figure with a cursor: β per epoch, and NDCG@100 against β.

    Args:
        history: from :func:`vaecf.train.fit` with β annealed (records ``beta`` and
            ``metric`` per epoch), e.g. ``sweep.anneal_history``.
        epoch: the epoch to mark; default the one with the best validation score.
    """
    if not history:
        raise ValueError("the history is empty; train with annealing first "
                         "(SweepSettings(anneal_run=True) or vaecf.train.fit).")
    missing = {"epoch", "step", "beta", metric} - set(history[0])
    if missing:
        raise KeyError(f"the history lacks {sorted(missing)}; pass a history from vaecf.train.fit.")
    epochs = np.array([h["epoch"] for h in history])
    steps = np.array([h["step"] for h in history])
    betas = np.array([h["beta"] for h in history])
    scores = np.array([h[metric] for h in history])
    best = int(np.argmax(scores))
    epoch = int(epochs[best]) if epoch is None else int(epoch)
    if epoch not in epochs:
        raise ValueError(f"epoch {epoch} is not in the history (epochs {epochs[0]}–{epochs[-1]}).")
    i = int(np.flatnonzero(epochs == epoch)[0])
    label = metric.replace("val_", "validation ").replace("ndcg", "NDCG")

    fig, (ax_beta, ax_ndcg) = plt.subplots(1, 2, figsize=(12, 4.3))
    ax_beta.plot(steps, betas, color="tab:purple")
    ax_beta.axvline(steps[i], color="tab:red", ls="--", lw=1)
    ax_beta.scatter([steps[i]], [betas[i]], s=140, marker="*", color="tab:red", zorder=3,
                    label=f"epoch {epoch}: step {steps[i]}, β = {betas[i]:.3f}")
    ax_beta.set(xlabel="training step (optimiser updates)", ylabel="β (KL weight)",
                title=_short(PANEL_TITLES["anneal_beta"]))
    ax_beta.legend(loc="upper left")

    ax_ndcg.plot(betas, scores, "-", color="tab:blue", marker=".", ms=4)
    ax_ndcg.scatter([betas[i]], [scores[i]], s=140, marker="*", color="tab:red", zorder=3,
                    label=f"now: β = {betas[i]:.3f}, {scores[i]:.3f}")
    ax_ndcg.scatter([betas[best]], [scores[best]], s=90, facecolors="none", edgecolors="black",
                    zorder=4, label=f"best: β = {betas[best]:.3f}, {scores[best]:.3f}")
    ax_ndcg.set(xlabel="β reached at the end of the epoch", ylabel=label,
                title=PANEL_TITLES["anneal_ndcg"])
    ax_ndcg.legend(loc="lower right")
    fig.suptitle(f"Annealing β from 0 with no cap: the best single epoch of {label} is at "
                 f"β ≈ {betas[best]:.2f}", fontsize=11)
    fig.tight_layout()
    return fig
