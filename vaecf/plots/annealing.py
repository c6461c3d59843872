"""Notebook 6's figures for KL annealing (paper §2.2.2): β schedules, the annealing curve,
the rate–distortion picture, and a sweep over β caps. They take what
:mod:`vaecf.experiments.annealing` computed and never train."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..experiments.annealing import AnnealingCurve, BetaChoice, CapSweep, beta_by_epoch, smooth

__all__ = ["plot_beta_schedules", "plot_annealing_curve", "plot_rate_distortion", "plot_cap_sweep"]


def plot_beta_schedules(schedules: dict, n_train_users: int, epochs: int, ax=None,
                        title: str = "β during training under each annealing schedule"):
    """β at the end of each epoch, one line per ``{label: TrainConfig}``, for a run of
    ``epochs`` epochs on ``n_train_users`` training users
    (:func:`vaecf.experiments.annealing.beta_by_epoch`)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    epoch_numbers = np.arange(0, int(epochs) + 1)
    for label, config in schedules.items():
        ax.plot(epoch_numbers, beta_by_epoch(config, n_train_users, epochs), label=label)
    ax.set(xlabel="epoch", ylabel="β", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax.figure


def plot_annealing_curve(curve: AnnealingCurve, ax=None, choice: BetaChoice | None = None):
    """Validation score against β for a run annealed with no cap; the best β marked, and,
    given the paper's choice of β (:func:`vaecf.experiments.annealing.choose_beta`), the smoothed curve
    and its peak."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    ax.plot(curve.betas, curve.scores, color="tab:blue", alpha=0.5 if choice else 1.0,
            label="annealed run (no cap)")
    if choice is not None:
        smoothed = smooth(curve.scores, choice.window)
        ax.plot(curve.betas, smoothed, color="black",
                label=f"moving average over {choice.window} epochs")
        peak = int(np.argmax(smoothed))
        ax.scatter([curve.betas[peak]], [smoothed[peak]], marker="o", s=80, color="black",
                   zorder=3, label=f"smoothed peak: β = {curve.betas[peak]:.2f}")
    ax.axvline(curve.best_beta, color="tab:red", linestyle="--", alpha=0.7)
    ax.scatter([curve.best_beta], [curve.best_score], marker="*", s=200, color="tab:red",
               zorder=3, label=f"best: β = {curve.best_beta:.2f}, {curve.best_score:.3f}")
    ax.set(xlabel="β (KL weight) at the end of the epoch",
           ylabel="validation " + curve.metric.replace("val_", "").upper(),
           title="β annealed from 0 to 1: validation NDCG@100 per epoch (★ = best)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return ax.figure


def plot_rate_distortion(curve: AnnealingCurve, sweep: CapSweep | None = None, ax=None):
    """KL (rate) against reconstruction loss (distortion), per epoch, coloured by β.

    With ``sweep``, each capped run's best epoch is drawn too, labelled with its cap.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 5))
    points = ax.scatter(curve.kl, curve.nll, c=curve.betas, cmap="viridis", s=18,
                        label="annealed run, one dot per epoch")
    ax.figure.colorbar(points, ax=ax, label="β")
    if sweep is not None:
        ax.scatter(sweep.kl, sweep.nll, marker="D", s=60, facecolors="none",
                   edgecolors="tab:red", label="best epoch of a run capped at β")
        for cap, kl, nll in zip(sweep.caps, sweep.kl, sweep.nll):
            ax.annotate(f"β≤{cap:g}", (kl, nll), textcoords="offset points", xytext=(6, 4),
                        color="tab:red")
    if (curve.kl > 0).all() and (sweep is None or (sweep.kl > 0).all()):
        ax.set_xscale("log")  # a run with β = 0 can carry hundreds of nats
    ax.set(xlabel="rate: KL(q(z|x) ‖ p(z)) per user (nats)",
           ylabel="distortion: −E_q[log p(x|z)] per user (nats)",
           title="Rate vs distortion for the annealing run and the capped runs")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    return ax.figure


def plot_cap_sweep(sweep: CapSweep):
    """Best validation score and the KL at that epoch, for each β cap."""
    fig, (ax_score, ax_kl) = plt.subplots(1, 2, figsize=(11, 4))
    ax_score.plot(sweep.caps, sweep.best_scores, marker="o")
    ax_score.set(xlabel="β cap", ylabel="best validation NDCG@100",
                 title="Ranking quality for each β cap")
    ax_kl.plot(sweep.caps, sweep.kl, marker="o", color="tab:orange")
    if (sweep.kl > 0).all():
        ax_kl.set_yscale("log")
    ax_kl.set(xlabel="β cap", ylabel="KL per user at the best epoch (nats)",
              title="A larger β squeezes the KL (the information in z)")
    for ax in (ax_score, ax_kl):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
