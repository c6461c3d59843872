"""Notebook 4's figures: the toy's decoder and exact posterior, fitted Gaussians q on it,
the ELBO during fitting, the variance of the two gradient estimators, and the parameters
that per-user inference needs."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..toys.latent_toy import GridPosterior, ToyModel

__all__ = ["plot_decoder_plane", "plot_prior_likelihood_posterior", "plot_elbo_traces",
           "plot_q_on_posterior", "plot_gradient_variance", "plot_parameter_growth"]

FIT_COLOURS = ("tab:red", "tab:purple")
"""Colours of the fitted q's, in the order of their starts (up to two)."""


def plot_decoder_plane(model: ToyModel, z_true, x, limit: float = 3.0, n: int = 121):
    """One panel per item: its probability π_i(z) (eq. 1) over the square [−limit, limit]²
    of the latent plane, the user's clicks x_i in the title and z* as a white cross."""
    axis = np.linspace(-limit, limit, n)
    plane = torch.stack(torch.meshgrid(torch.tensor(axis), torch.tensor(axis), indexing="ij"), -1)
    with torch.no_grad():
        pi_plane = model.probabilities(plane).numpy()  # (n, n, items)
    fig, axes = plt.subplots(1, model.n_items, figsize=(15, 2.8), sharey=True)
    for i, ax in enumerate(axes):
        image = ax.pcolormesh(axis, axis, pi_plane[:, :, i].T, vmin=0, vmax=1, cmap="viridis", shading="auto")
        ax.plot(*z_true, "wx", markersize=8, mew=2)
        ax.set_title(f"item {i}: π_{i}(z), x_{i} = {int(x[i])}", fontsize=9)
        ax.set_xlabel("z₁")
    axes[0].set_ylabel("z₂")
    fig.colorbar(image, ax=axes, shrink=0.8, label="probability")
    fig.suptitle("The decoder gives each point z a distribution over items (white cross: z*)", y=1.04)
    return fig


def plot_prior_likelihood_posterior(grid: GridPosterior, log_prior, log_likelihood, z_true):
    """Contours of the prior, the likelihood and the posterior on the grid (each scaled
    to a peak of 1), z* as a red cross."""
    panels = [("prior p(z)", log_prior), ("likelihood p(x | z)", log_likelihood),
              ("posterior p(z | x)", grid.log_posterior)]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    for ax, (title, log_values) in zip(axes, panels):
        ax.contourf(grid.axis, grid.axis, np.exp(log_values - log_values.max()).T, levels=12, cmap="Blues")
        ax.plot(*z_true, "rx", markersize=8, mew=2)
        ax.set_xlim(-3.5, 3.5)
        ax.set_ylim(-3.5, 3.5)
        ax.set_aspect("equal")
        ax.set_xlabel("z₁")
        ax.set_title(title)
    axes[0].set_ylabel("z₂")
    fig.suptitle("Posterior = prior × likelihood, normalised: a curved shape no Gaussian matches (red: z*)")
    return fig


def plot_elbo_traces(fits: dict, log_evidence: float, elbo_prior: float):
    """The Monte Carlo ELBO of each fit at every step (faint) and its running mean over a
    thirtieth of the steps (solid), below the dashed log p(x).

    Args:
        fits: ``{start: FittedQ}`` from :func:`vaecf.toys.latent_toy.fit_from_starts`.
        log_evidence: log p(x) from the grid; elbo_prior: the ELBO of q = the prior (the
            y axis starts 2 nats below it).
    """
    fig, ax = plt.subplots(figsize=(8, 4))
    for (name, fit), colour in zip(fits.items(), FIT_COLOURS):
        steps = len(fit.elbo_trace)
        window = max(1, steps // 30)
        smooth = np.convolve(fit.elbo_trace, np.ones(window) / window, mode="valid")
        ax.plot(fit.elbo_trace, color=colour, alpha=0.2)
        ax.plot(np.arange(window - 1, steps), smooth, color=colour, label=f"q {name} (running mean)")
    ax.axhline(log_evidence, color="black", linestyle="--", label="log p(x) (grid)")
    ax.set_ylim(elbo_prior - 2, log_evidence + 2)
    ax.set_xlabel("optimisation step")
    ax.set_ylabel("nats")
    ax.set_title("The ELBO climbs towards log p(x) but stays below it")
    ax.legend()
    return fig


def plot_q_on_posterior(grid: GridPosterior, fits: dict, z_true):
    """Left: the exact posterior. Right: the same with each fitted q's contours and mean.
    Both mark the posterior mean (+) and z* (x).

    Args:
        fits: ``{start: FittedQ}`` from :func:`vaecf.toys.latent_toy.fit_from_starts`.
    """
    posterior = np.exp(grid.log_posterior)
    post_mean = grid.posterior_mean()
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), sharey=True)
    for ax, show_q in zip(axes, (False, True)):
        ax.contourf(grid.axis, grid.axis, posterior.T, levels=12, cmap="Blues")
        if show_q:
            for (name, fit), colour in zip(fits.items(), FIT_COLOURS):
                ax.contour(grid.axis, grid.axis, np.exp(grid.log_q(fit.mu, fit.logvar)).T, levels=5,
                           colors=colour, linewidths=1.2)
                ax.plot(*fit.mu, "o", color=colour, label=f"mean of q {name}")
        ax.plot(*post_mean, "k+", markersize=12, mew=2, label="posterior mean")
        ax.plot(*z_true, "x", color="tab:orange", markersize=8, mew=2, label="z*")
        ax.set_xlim(-3, 2)
        ax.set_ylim(-1.5, 2.5)
        ax.set_aspect("equal")
        ax.set_xlabel("z₁")
        ax.set_title("fitted Gaussians q on the exact posterior" if show_q else "exact posterior p(z | x)")
        ax.legend(loc="lower right", fontsize=8)
    axes[0].set_ylabel("z₂")
    fig.suptitle("A factorised Gaussian q cannot bend: each fit sits on one part of the posterior")
    return fig


def plot_gradient_variance(var_reparam, var_score, sample_sizes):
    """Bars (log scale) of the total variance of the reparameterised and the score-function
    estimates of ∇_μ ELBO at each number of samples S."""
    positions = np.arange(len(sample_sizes))
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(positions - 0.2, var_reparam, 0.4, label="reparameterisation")
    ax.bar(positions + 0.2, var_score, 0.4, label="score function (REINFORCE)")
    ax.set_yscale("log")
    ax.set_xticks(positions, [str(S) for S in sample_sizes])
    ax.set_xlabel("samples S per gradient estimate")
    ax.set_ylabel("variance of the ∇_μ ELBO estimate (log scale)")
    ax.set_title("Same mean, less noise: the reparameterised gradient is the better estimator")
    ax.legend()
    return fig


def plot_parameter_growth(per_user: int, decoder: int, n_users: int, n_items: int, dataset: str,
                          max_users: int):
    """Per-user variational parameters 2·K·U against the number of users U (log–log, from
    100 to ``max_users``), beside the decoder's fixed count; the dataset's users as a dot.

    Args:
        per_user: 2·K, the parameters of one user's q; decoder: the decoder's parameters.
        n_users, n_items, dataset: the notebook's dataset, for the dot and the labels.
    """
    users_axis = np.logspace(2, np.log10(max_users), 50)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.loglog(users_axis, per_user * users_axis, label="per-user q: 2·K·U")
    ax.axhline(decoder, color="gray", linestyle="--", label=f"decoder f_θ for {n_items:,} items")
    ax.plot(n_users, per_user * n_users, "o", color="tab:red", label=f"{dataset} ({n_users:,} users)")
    ax.set_xlabel("number of users U")
    ax.set_ylabel("parameters")
    ax.set_title("Per-user variational parameters grow with every new user")
    ax.legend()
    return fig
