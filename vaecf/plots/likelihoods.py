"""Notebook 3's figure of where each likelihood's Mult-VAE puts its mass for one user."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..toys.probability_mass import item_mass

__all__ = ["plot_mass_for_one_user"]


def plot_mass_for_one_user(logits: dict, fold_in_items, target_items, n_top: int = 40):
    """One panel per likelihood: the ``n_top`` items with the most mass for one user
    (:func:`vaecf.toys.probability_mass.item_mass`), grey for the user's fold-in clicks, red for
    their held-out clicks, blue for the rest; each title gives the share of the mass on the
    fold-in and on the held-out items.

    Args:
        logits: ``{likelihood: the model's scores for the user, shape (1, items)}``.
        fold_in_items, target_items: sets of the user's fold-in and held-out columns.
    """
    fig, axes = plt.subplots(len(logits), 1, figsize=(11, 8), sharey=False, squeeze=False)
    axes = axes[:, 0]
    for ax, (likelihood, scores) in zip(axes, logits.items()):
        mass = item_mass(torch.from_numpy(scores), likelihood)[0].numpy()
        top = np.argsort(-mass)[:n_top]
        colours = ["tab:grey" if i in fold_in_items else "tab:red" if i in target_items else "tab:blue"
                   for i in top]
        ax.bar(range(n_top), mass[top], color=colours)
        on_target = mass[list(target_items)].sum()
        on_fold_in = mass[list(fold_in_items)].sum()
        ax.set(ylabel="share of mass", title=f"{likelihood}: {on_fold_in:.0%} of the mass on fold-in items, "
                                             f"{on_target:.0%} on held-out items")
    axes[-1].set(xlabel=f"the {n_top} items with the most mass, in order "
                        "(grey = fold-in, red = held-out click, blue = other)")
    fig.suptitle("Where each Mult-VAE puts its mass for one test user (shares rescaled to sum to one)", y=1.0)
    fig.tight_layout()
    return fig
