"""The amortisation gap (Cremer, Li & Duvenaud 2018) of a trained Mult-VAE.

For a user u with clicks x_u and the VAE's decoder θ held fixed, compare two Gaussians:

* q_φ(z | x_u), the encoder's answer (amortised: one network pass for any user), and
* q*_u, the best Gaussian found for this user alone by per-user VI
  (:func:`vaecf.models.per_user_vi.fit_user_posteriors`), started from q_φ(z | x_u).

gap_u = ELBO(q*_u) − ELBO(q_φ(·|x_u)) ≥ 0: the price of sharing one encoder between all
users. Both ELBOs (paper eq. 5, β = 1) are estimated with the same random draws, so their
difference carries less Monte Carlo noise than either.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from .autoencoders import MultVAE
from .inputs import csr_to_torch
from .per_user_vi import fit_user_posteriors, per_user_elbo

__all__ = ["AmortisationGap", "amortisation_gap"]


@dataclass
class AmortisationGap:
    """Per-user ELBOs under the encoder and under per-user VI, and what each cost."""

    amortised: np.ndarray
    per_user: np.ndarray
    encoder_seconds: float
    per_user_seconds: float

    @property
    def gap(self) -> np.ndarray:
        """ELBO(per-user q) − ELBO(encoder q), one value a user (≥ 0 up to Monte Carlo noise)."""
        return self.per_user - self.amortised


@torch.no_grad()
def _encode(model: MultVAE, clicks: sp.csr_matrix, batch_size: int):
    mus, logvars = [], []
    for start in range(0, clicks.shape[0], batch_size):
        mu, logvar = model.encode(csr_to_torch(clicks[start:start + batch_size], model.device))
        mus.append(mu)
        logvars.append(logvar)
    return torch.cat(mus), torch.cat(logvars)


def _seconds(function) -> float:
    tic = time.perf_counter()
    function()
    return time.perf_counter() - tic


def amortisation_gap(model: MultVAE, clicks: sp.csr_matrix, steps: int = 300, lr: float = 0.01,
                     n_samples: int = 1, eval_samples: int = 100, batch_size: int = 1000,
                     seed: int = 0, progress: bool = False) -> AmortisationGap:
    """ELBO per user under the trained encoder and under per-user optimised q.

    Args:
        model: a trained Mult-VAE (its encoder gives q_φ, its decoder p_θ).
        clicks: the users' clicks (users × items, CSR), e.g. held-out users' fold-in rows.
        steps, lr, n_samples: per-user VI's optimiser (started from the encoder's q).
        eval_samples: Monte Carlo draws for each ELBO estimate.
        seed: seeds both the optimisation and the (shared) evaluation draws.

    ``encoder_seconds`` is the fastest of three encoder passes over ``clicks`` after a
    first one (a single pass of a few users would mostly time one-off set-up);
    ``per_user_seconds`` is the one run of per-user VI.
    """
    if not isinstance(model, MultVAE):
        raise TypeError(f"the amortisation gap needs a Mult-VAE (an encoder q_φ(z|x)), got "
                        f"{type(model).__name__}.")
    if not sp.issparse(clicks):
        raise TypeError(f"expected a SciPy sparse matrix of clicks, got {type(clicks).__name__}.")
    was_training = model.training
    model.eval()  # no input dropout: q_φ(z | x) itself
    try:
        mu, logvar = _encode(model, clicks, batch_size)  # also sets up kernels and memory
        encoder_seconds = min(_seconds(lambda: _encode(model, clicks, batch_size))
                              for _ in range(3))  # the steady cost of a pass, not set-up
        evaluate = dict(likelihood=model.likelihood_name, n_samples=eval_samples,
                        batch_size=batch_size, seed=seed + 1)
        amortised = per_user_elbo(model.decode, clicks, mu, logvar, **evaluate)
        tic = time.perf_counter()
        mu_star, logvar_star = fit_user_posteriors(
            model.decode, clicks, model.likelihood_name, init=(mu, logvar), steps=steps, lr=lr,
            n_samples=n_samples, batch_size=batch_size, seed=seed, device=model.device,
            progress=progress)
        per_user_seconds = time.perf_counter() - tic
        per_user = per_user_elbo(model.decode, clicks, mu_star, logvar_star, **evaluate)
    finally:
        model.train(was_training)
    return AmortisationGap(amortised, per_user, encoder_seconds, per_user_seconds)
