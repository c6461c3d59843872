"""Notebook 9's figure: RecVAE's composite prior beside the standard normal."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..models.recvae import PRIOR_WEIGHTS

__all__ = ["plot_composite_prior"]


def plot_composite_prior(z, density, old_mu: float, old_logvar: float, near: float = 5.0):
    """The composite prior's density (:func:`vaecf.models.recvae.composite_prior_on_a_line`)
    over |z| < ``near``, with N(0, 1) dashed; the title names the previous posterior
    N(old_mu, e^{old_logvar}) that carries its largest weight."""
    z, density = np.asarray(z, dtype=np.float64), np.asarray(density, dtype=np.float64)
    shown = np.abs(z) < near
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(z[shown], density[shown], label="composite prior")
    ax.plot(z[shown], np.exp(-0.5 * z[shown] ** 2) / np.sqrt(2 * np.pi), "--", label="N(0, 1)")
    ax.set(xlabel="z (one dimension)", ylabel="density",
           title=f"The composite prior puts {PRIOR_WEIGHTS[1]:.0%} of its mass on last epoch's "
                 f"posterior N({old_mu:g}, e^{old_logvar:g})")
    ax.legend()
    return fig
