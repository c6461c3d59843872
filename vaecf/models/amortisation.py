"""Notebook 5: the amortisation gap (Cremer, Li & Duvenaud 2018) of a trained Mult-VAE.

For a user u with clicks x_u and the VAE's decoder θ held fixed, compare Gaussians under
one objective, the β-ELBO (paper eq. 6) with the β the encoder was trained with:

* q_φ(z | x_u), the encoder's answer (amortised: one network pass for any user), and
* per-user VI (:func:`vaecf.models.per_user_vi.fit_user_posteriors`) on the same β-ELBO,
  run twice: started from the encoder's answer, and started from the prior (so that the
  result does not merely polish the encoder's q). q*_u is the better of the two.

gap_u = ELBO_β(q*_u) − ELBO_β(q_φ(·|x_u)) ≥ 0: what the one shared encoder gives up against
the best Gaussian found for each user alone. Comparing at another β (say the plain ELBO,
β = 1, for an encoder trained with β ≤ 0.2) would charge the encoder for an objective it
was never trained on. All ELBOs are estimated with the same random draws, so their
differences carry less Monte Carlo noise than each of them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from .autoencoders import MultVAE
from .inputs import csr_to_torch
from ..metrics import exclude_fold_in, ndcg_at_k
from .per_user_vi import INITIAL_LOGVAR, fit_user_posteriors, per_user_elbo

__all__ = ["AmortisationGap", "amortisation_gap", "refinement_ndcg"]


@dataclass
class AmortisationGap:
    """Per-user β-ELBOs under the encoder and under per-user VI, and what each cost.

    ``from_encoder`` and ``from_prior`` are the β-ELBOs per-user VI reached from each start;
    ``per_user`` is the better of the two for each user (the best Gaussian found).
    """

    beta: float
    amortised: np.ndarray
    from_encoder: np.ndarray
    from_prior: np.ndarray
    encoder_seconds: float
    per_user_seconds: float  # one run of per-user VI (from the prior) over all the users

    @property
    def per_user(self) -> np.ndarray:
        return np.maximum(self.from_encoder, self.from_prior)

    @property
    def gap(self) -> np.ndarray:
        """ELBO_β(best per-user q) − ELBO_β(encoder q), one value a user (≥ 0 up to Monte
        Carlo noise)."""
        return self.per_user - self.amortised

    @property
    def relative(self) -> np.ndarray:
        """Each user's gap as a share of the size of her encoder β-ELBO, |ELBO_β(q_φ)|."""
        return self.gap / np.abs(self.amortised)

    def share_nonnegative(self, tolerance: float = 0.05) -> float:
        """Share of users whose gap is ≥ −``tolerance`` nats: the best per-user q at least as
        good as the encoder's, up to Monte Carlo noise (the theory says all of them)."""
        return float(np.mean(self.gap >= -tolerance))

    @property
    def share_prior_start_better(self) -> float:
        """Share of users for whom per-user VI from the prior beat VI from the encoder's q."""
        return float(np.mean(self.from_prior > self.from_encoder))


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


def amortisation_gap(model: MultVAE, clicks: sp.csr_matrix, beta: float, steps: int = 300,
                     lr: float = 0.01, n_samples: int = 1, eval_samples: int = 100,
                     batch_size: int = 1000, seed: int = 0,
                     progress: bool = False) -> AmortisationGap:
    """β-ELBO per user under the trained encoder and under per-user optimised q.

    Args:
        model: a trained Mult-VAE (its encoder gives q_φ, its decoder p_θ).
        clicks: the users' clicks (users × items, CSR), e.g. held-out users' fold-in rows.
        beta: the KL weight of the objective compared: the β the encoder was trained with
            (for an annealed run, the β at its kept epoch).
        steps, lr, n_samples: per-user VI's optimiser (run from the encoder's q and from
            the prior).
        eval_samples: Monte Carlo draws for each ELBO estimate.
        seed: seeds both the optimisation and the (shared) evaluation draws.

    ``encoder_seconds`` is the fastest of three encoder passes over ``clicks`` after a
    first one (a single pass of a few users would mostly time one-off set-up);
    ``per_user_seconds`` is the run of per-user VI from the prior, what folding in new
    users without an encoder costs.
    """
    if not beta >= 0 or np.isinf(beta):
        raise ValueError(f"beta (β) must be a finite number ≥ 0, got {beta}.")
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
        evaluate = dict(likelihood=model.likelihood_name, n_samples=eval_samples, beta=beta,
                        batch_size=batch_size, seed=seed + 1)
        optimise = dict(likelihood=model.likelihood_name, steps=steps, lr=lr, beta=beta,
                        n_samples=n_samples, batch_size=batch_size, seed=seed,
                        device=model.device, progress=progress)
        amortised = per_user_elbo(model.decode, clicks, mu, logvar, **evaluate)
        refined = fit_user_posteriors(model.decode, clicks, init=(mu, logvar), **optimise)
        prior_start = (torch.zeros_like(mu), torch.full_like(logvar, INITIAL_LOGVAR))
        tic = time.perf_counter()
        from_prior = fit_user_posteriors(model.decode, clicks, init=prior_start, **optimise)
        per_user_seconds = time.perf_counter() - tic
        from_encoder = per_user_elbo(model.decode, clicks, *refined, **evaluate)
        from_prior = per_user_elbo(model.decode, clicks, *from_prior, **evaluate)
    finally:
        model.train(was_training)
    return AmortisationGap(float(beta), amortised, from_encoder, from_prior, encoder_seconds,
                           per_user_seconds)


def refinement_ndcg(model: MultVAE, clicks: sp.csr_matrix, target: sp.csr_matrix, beta: float,
                    steps: int = 300, lr: float = 0.01, seed: int = 0,
                    k: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Does a better ELBO rank better? NDCG@k per user of the decoder at the encoder's μ,
    and at μ* refined by per-user VI on the β-ELBO (eq. 6) started from the encoder's q
    (:func:`vaecf.models.per_user_vi.fit_user_posteriors`, decoder fixed).

    Args:
        clicks: the users' fold-in clicks (users × items, CSR); their fold-in items are
            never recommended.
        target: the same users' held-out clicks.
        beta, steps, lr, seed: the refinement's objective and optimiser.

    Returns ``(ndcg_encoder, ndcg_refined)``.
    """
    if not sp.issparse(clicks) or not sp.issparse(target) or clicks.shape != target.shape:
        raise ValueError("clicks and target must be sparse matrices of the same users × items.")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            mu, logvar = model.encode(csr_to_torch(clicks, model.device))
        mu_star, _ = fit_user_posteriors(model.decode, clicks, likelihood=model.likelihood_name,
                                         init=(mu, logvar), steps=steps, beta=beta, lr=lr, seed=seed,
                                         device=model.device)
        with torch.no_grad():
            return tuple(ndcg_at_k(exclude_fold_in(model.decode(codes).cpu().numpy(), clicks), target, k)
                         for codes in (mu, mu_star))
    finally:
        model.train(was_training)
