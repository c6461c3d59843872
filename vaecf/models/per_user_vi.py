"""Notebook 5: per-user (non-amortised) variational inference (paper §2.2, before amortisation).

The generative model is Mult-VAE's: z_u ~ N(0, I), x_u ~ p(x | f_θ(z_u)). Instead of an
inference network, every user u has her own variational distribution

    q(z_u) = N(μ_u, diag σ_u²),

fitted by maximising her ELBO (paper eq. 5 with β = 1; eq. 6 for general β)

    ELBO_u = E_q[log p(x_u | z_u)] − β KL(q(z_u) ‖ p(z_u)),

whose expectation is estimated with the reparameterisation trick z = μ + σ ⊙ ε and whose
KL is in closed form. Folding in a new user means running this optimisation for her (θ
fixed); that the variational parameters grow with the number of users is what motivates
the amortised encoder of the VAE.

``decode`` below is any function from codes z (users × latent) to item logits, e.g. a
trained ``MultVAE(...).decode`` or ``PerUserVI(...).decode``.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn as nn
from tqdm.auto import tqdm

from ..likelihoods import get_likelihood
from .autoencoders import _check_dims, _mlp, _run
from .gaussian import kl_to_standard_normal, reparameterise
from .inputs import check_clicks, csr_to_torch

__all__ = ["elbo", "fit_user_posteriors", "per_user_elbo", "PerUserVI"]


def _whole(name, value, minimum=1):
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be a whole number ≥ {minimum}, got {value!r}.")
    return int(value)


def _rate(name, value):
    if not value > 0 or math.isinf(value):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}.")
    return float(value)


def elbo(decode, likelihood, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
         n_samples: int = 1, beta: float = 1.0,
         generator: torch.Generator | None = None) -> torch.Tensor:
    """Monte Carlo ELBO of each user (eq. 6): mean over ``n_samples`` reparameterised
    draws of log p(x | z), minus β times the closed-form KL(q ‖ N(0, I)).

    The draws ε (n_samples × users × latent) are taken in one call from ``generator``, and
    decoded a chunk of samples at a time.

    Args:
        decode: codes (… × latent) → item logits (… × items).
        likelihood: a function of :mod:`vaecf.likelihoods` (or its name).
        x: the users' clicks (dense or sparse torch tensor, users × items).
        mu, logvar: q's mean and log-variance (users × latent).
    """
    likelihood = get_likelihood(likelihood) if isinstance(likelihood, str) else likelihood
    n_users, n_items = x.shape
    z = reparameterise(mu.expand(n_samples, *mu.shape), logvar.expand(n_samples, *logvar.shape),
                       generator=generator)
    dense = x.to_dense() if x.is_sparse else x
    chunk = max(1, _CHUNK_NUMBERS // max(1, n_users * n_items))
    expected = torch.zeros(n_users, dtype=mu.dtype, device=mu.device)
    for start in range(0, n_samples, chunk):
        block = z[start:start + chunk]
        logits = decode(block.reshape(-1, mu.shape[-1]))
        if logits.shape != (block.shape[0] * n_users, n_items):
            raise ValueError(f"the decoder gives {logits.shape[-1]} logits for clicks on {n_items} "
                             "items; use the decoder trained on this item set.")
        repeated = dense.expand(block.shape[0], n_users, n_items).reshape(-1, n_items)
        expected = expected + likelihood(logits, repeated).view(block.shape[0], n_users).sum(0)
    return expected / n_samples - beta * kl_to_standard_normal(mu, logvar)


_CHUNK_NUMBERS = 20_000_000
"""At most this many logits are held at once when averaging over samples."""


def _generator(seed: int, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(int(seed))


INITIAL_LOGVAR = -2.0
"""Where a fresh q starts: log σ² = −2 (σ ≈ 0.37), narrower than the prior so that early
samples already say something about the user."""


def _init(init, n_users, latent_dim, device):
    if init is None:
        if latent_dim is None:
            raise ValueError("give latent_dim (the size of z) or an init=(mu, logvar) to start from.")
        _whole("latent_dim (the size of z)", latent_dim)
        mu = torch.zeros(n_users, int(latent_dim), device=device)
        return mu, torch.full_like(mu, INITIAL_LOGVAR)
    mu, logvar = (torch.as_tensor(t, dtype=torch.float32, device=device) for t in init)
    if mu.shape != logvar.shape or mu.ndim != 2 or mu.shape[0] != n_users:
        raise ValueError(f"init must be (mu, logvar), each users × latent = ({n_users}, d); got "
                         f"shapes {tuple(mu.shape)} and {tuple(logvar.shape)}.")
    return mu.clone(), logvar.clone()


def fit_user_posteriors(decode, clicks: sp.csr_matrix, likelihood: str = "multinomial",
                        latent_dim: int | None = None, init=None, steps: int = 300,
                        lr: float = 0.05, n_samples: int = 1, beta: float = 1.0,
                        batch_size: int = 1000, seed: int = 0, device=None,
                        progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Fit q(z_u) = N(μ_u, diag σ_u²) for every row of ``clicks`` with the decoder fixed.

    Each user's negative ELBO is minimised by Adam on (μ_u, log σ_u²) with the
    reparameterisation gradient; the learning rate decays to zero along a cosine, so the
    last iterate settles instead of jittering. Users are independent (the decoder is fixed),
    so a batch of them is optimised at once.

    Args:
        decode: codes → item logits (θ is not changed).
        clicks: users × items, CSR.
        latent_dim: size of z, when starting from ``μ = 0, log σ² = INITIAL_LOGVAR``.
        init: ``(mu, logvar)`` to start from instead (e.g. an encoder's output).
        steps, lr, n_samples: optimiser steps, Adam's learning rate, draws per step.
        seed: seeds the draws of ε.

    Returns:
        ``(mu, logvar)``: users × latent tensors on ``device``.
    """
    clicks = check_clicks(clicks)
    steps, n_samples = _whole("steps", steps), _whole("n_samples", n_samples)
    batch_size, lr = _whole("batch_size", batch_size), _rate("lr", lr)
    if not beta >= 0:
        raise ValueError(f"beta (β) must be ≥ 0, got {beta}.")
    device = torch.device(device) if device is not None else torch.device("cpu")
    likelihood_fn = get_likelihood(likelihood)
    mu_all, logvar_all = _init(init, clicks.shape[0], latent_dim, device)
    generator = _generator(seed, device)
    starts = range(0, clicks.shape[0], batch_size)
    bar = tqdm(total=len(starts) * steps, desc="per-user VI", disable=not progress)
    for start in starts:
        rows = slice(start, start + batch_size)
        x = csr_to_torch(clicks[rows], device)
        mu = mu_all[rows].clone().requires_grad_(True)
        logvar = logvar_all[rows].clone().requires_grad_(True)
        optimiser = torch.optim.Adam([mu, logvar], lr=lr)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=steps)
        for _ in range(steps):
            loss = -elbo(decode, likelihood_fn, x, mu, logvar, n_samples, beta, generator).sum()
            if not torch.isfinite(loss):
                raise RuntimeError(f"the ELBO became {loss.item()}; lower lr (now {lr}).")
            # Gradients for (μ, log σ²) only: the decoder's parameters are left untouched.
            mu.grad, logvar.grad = torch.autograd.grad(loss, [mu, logvar])
            optimiser.step()
            schedule.step()
            bar.update()
        mu_all[rows], logvar_all[rows] = mu.detach(), logvar.detach()
    bar.close()
    return mu_all, logvar_all


@torch.no_grad()
def per_user_elbo(decode, clicks: sp.csr_matrix, mu, logvar, likelihood: str = "multinomial",
                  n_samples: int = 100, beta: float = 1.0, batch_size: int = 1000,
                  seed: int = 0) -> np.ndarray:
    """Each user's ELBO (eq. 5 with β = 1) under q = N(mu, diag exp(logvar)), Monte Carlo
    with ``n_samples`` draws from a generator seeded by ``seed``: the same seed gives the
    same draws, so two q's compared with one seed share their noise."""
    clicks = check_clicks(clicks)
    n_samples, batch_size = _whole("n_samples", n_samples), _whole("batch_size", batch_size)
    mu, logvar = torch.as_tensor(mu), torch.as_tensor(logvar)
    if mu.shape[0] != clicks.shape[0] or mu.shape != logvar.shape:
        raise ValueError(f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must both have "
                         f"one row per user ({clicks.shape[0]}).")
    likelihood_fn = get_likelihood(likelihood)
    generator = _generator(seed, mu.device)
    values = []
    for start in range(0, clicks.shape[0], batch_size):
        rows = slice(start, start + batch_size)
        x = csr_to_torch(clicks[rows], mu.device)
        values.append(elbo(decode, likelihood_fn, x, mu[rows], logvar[rows], n_samples, beta,
                           generator).cpu().numpy())
    return np.concatenate(values).astype(np.float64)


class PerUserVI(nn.Module):
    """A decoder f_θ plus one q(z_u) per training user, trained jointly on the ELBO.

    The variational parameters live in two embedding tables (μ and log σ², users × latent)
    updated with sparse Adam, so a user's parameters change only when her batch is seen.
    They grow linearly with the number of users: see :meth:`parameter_counts`.

    Args:
        n_users, n_items: the training matrix's shape.
        hidden_dims, latent_dim: the decoder [latent → hidden… → items] (Mult-VAE's by default).
        likelihood: ``"multinomial"`` (eq. 2), ``"gaussian"`` (eq. 3) or ``"logistic"`` (eq. 4).
    """

    def __init__(self, n_users: int, n_items: int, hidden_dims=(600,), latent_dim: int = 200,
                 likelihood: str = "multinomial"):
        super().__init__()
        hidden_dims = tuple(hidden_dims)
        _check_dims(n_items, hidden_dims + (latent_dim,), 0.0)
        _whole("n_users", n_users)
        self.likelihood_name = likelihood
        self.likelihood = get_likelihood(likelihood)
        self.n_users, self.n_items = int(n_users), int(n_items)
        self.hidden_dims, self.latent_dim = hidden_dims, int(latent_dim)
        self.decoder = _mlp((self.latent_dim,) + hidden_dims[::-1] + (self.n_items,))
        for module in self.decoder:
            nn.init.xavier_uniform_(module.weight)
            nn.init.normal_(module.bias, std=0.001)
        self.mu = nn.Embedding(self.n_users, self.latent_dim, sparse=True)
        self.logvar = nn.Embedding(self.n_users, self.latent_dim, sparse=True)
        nn.init.normal_(self.mu.weight, std=0.01)
        nn.init.constant_(self.logvar.weight, INITIAL_LOGVAR)

    @property
    def device(self) -> torch.device:
        return self.mu.weight.device

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return _run(self.decoder, z)

    def parameter_counts(self) -> dict:
        """Shared decoder parameters vs per-user ones (2 × latent for each user)."""
        decoder = sum(p.numel() for p in self.decoder.parameters())
        return {"decoder": decoder, "per_user": 2 * self.n_users * self.latent_dim,
                "per_user_each": 2 * self.latent_dim, "users": self.n_users}

    def fit(self, train: sp.csr_matrix, epochs: int = 50, batch_size: int = 500,
            lr: float = 1e-3, lr_users: float = 0.05, n_samples: int = 1, beta: float = 1.0,
            seed: int = 0, progress: bool = True) -> list:
        """Maximise Σ_u ELBO_u over θ and every (μ_u, log σ_u²) together.

        Returns the history: one dict per epoch with the mean ELBO per user.
        """
        train = check_clicks(train)
        if train.shape != (self.n_users, self.n_items):
            raise ValueError(f"the training matrix is {train.shape} but the model was built for "
                             f"({self.n_users}, {self.n_items}) users × items.")
        epochs, batch_size = _whole("epochs", epochs), _whole("batch_size", batch_size)
        n_samples = _whole("n_samples", n_samples)
        decoder_opt = torch.optim.Adam(self.decoder.parameters(), lr=_rate("lr", lr))
        user_opt = torch.optim.SparseAdam(list(self.mu.parameters()) + list(self.logvar.parameters()),
                                          lr=_rate("lr_users", lr_users))
        rng = np.random.default_rng(seed)
        generator = _generator(seed, self.device)
        history = []
        self.train()
        for epoch in tqdm(range(1, epochs + 1), desc="per-user VI (joint)", disable=not progress):
            total = 0.0
            order = rng.permutation(self.n_users)
            for start in range(0, self.n_users, batch_size):
                rows = order[start:start + batch_size]
                index = torch.from_numpy(rows).to(self.device)
                x = csr_to_torch(train[rows], self.device)
                values = elbo(self.decode, self.likelihood, x, self.mu(index), self.logvar(index),
                              n_samples, beta, generator)
                loss = -values.mean()
                if not torch.isfinite(loss):
                    raise RuntimeError(f"the ELBO became {loss.item()} at epoch {epoch}; "
                                       f"lower lr (now {lr}) or lr_users (now {lr_users}).")
                decoder_opt.zero_grad(set_to_none=True)
                user_opt.zero_grad(set_to_none=True)
                loss.backward()  # Adam is scale-free, so the 1/batch factor does not matter
                decoder_opt.step()
                user_opt.step()
                total += values.sum().item()
            history.append({"epoch": epoch, "elbo": total / self.n_users})
        self.eval()
        return history

    def fold_in(self, clicks: sp.csr_matrix, steps: int = 300, lr: float = 0.05,
                n_samples: int = 1, seed: int = 0, progress: bool = False):
        """(μ, log σ²) for new users by per-user VI with this decoder fixed."""
        return fit_user_posteriors(self.decode, clicks, self.likelihood_name,
                                   latent_dim=self.latent_dim, steps=steps, lr=lr,
                                   n_samples=n_samples, seed=seed, device=self.device,
                                   progress=progress)

    def score(self, fold_in: sp.csr_matrix) -> np.ndarray:
        """Item logits f_θ(μ_u) after folding in each user of the batch."""
        fold_in = check_clicks(fold_in)
        if fold_in.shape[1] != self.n_items:
            raise ValueError(f"the batch has {fold_in.shape[1]} items but the model was built for "
                             f"{self.n_items}; use the same item set as in training.")
        mu, _ = self.fold_in(fold_in)
        with torch.no_grad():
            return self.decode(mu).cpu().numpy()
