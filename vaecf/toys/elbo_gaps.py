"""Notebook 4: the two gaps of a VAE's ELBO, split exactly on the two-dimensional toy.

For a user with clicks x, the log-evidence log p(x), the best diagonal Gaussian q* and an
amortised encoder's answer q_φ(z | x) satisfy (Cremer, Li & Duvenaud 2018)

    log p(x) − ELBO(q_φ) = [log p(x) − ELBO(q*)] + [ELBO(q*) − ELBO(q_φ)]
                         =  approximation gap    +  amortisation gap,

both terms ≥ 0. The first is what restricting q to factorised Gaussians costs, the second
what sharing one encoder between all users costs. On the toy of :mod:`vaecf.toys.latent_toy` every
term is computable: log p(x) on a grid, ELBOs by Gauss–Hermite quadrature (deterministic,
so optimising them involves no sampling noise), q* by optimising from two starts (the
prior and the encoder's answer) and keeping the better one.

The decoder is the toy's fixed, true f_θ; only the encoder (here a one-hidden-layer tanh
network from the share of each item in x to μ and log σ²) is trained, on users drawn from
the model. Log-likelihoods omit the multinomial coefficient, as everywhere in the toy: it
is the same constant in log p(x) and in every ELBO, so the gaps do not change.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..models.gaussian import kl_to_standard_normal
from .latent_toy import LATENT_DIM, ToyModel, grid_posterior

__all__ = ["elbo_quadrature_batch", "draw_toy_users", "ToyEncoder", "fit_toy_encoder",
           "best_gaussians", "GapDecomposition", "gap_decomposition"]


def elbo_quadrature_batch(model: ToyModel, x: torch.Tensor, mu: torch.Tensor,
                          logvar: torch.Tensor, n_points: int = 24) -> torch.Tensor:
    """ELBO (eq. 5) of every user at once by Gauss–Hermite quadrature, differentiable.

    Args:
        x: click counts, users × items; mu, logvar: q's parameters, users × 2.
    """
    dtype, device = model.item_bias.dtype, model.item_bias.device
    nodes, weights = np.polynomial.hermite.hermgauss(int(n_points))
    t = torch.as_tensor(nodes, dtype=dtype, device=device)
    w = torch.as_tensor(weights, dtype=dtype, device=device)
    tt = torch.stack(torch.meshgrid(t, t, indexing="ij"), dim=-1).reshape(-1, LATENT_DIM)
    ww = (w[:, None] * w[None, :]).reshape(-1) / math.pi
    z = mu[:, None, :] + math.sqrt(2.0) * torch.exp(0.5 * logvar)[:, None, :] * tt[None]
    log_pi = torch.log_softmax(model.logits(z), dim=-1)  # users × points × items
    expected = ((log_pi * x[:, None, :]).sum(-1) * ww).sum(-1)
    return expected - kl_to_standard_normal(mu, logvar)


def draw_toy_users(model: ToyModel, n_users: int, n_clicks: int, seed: int) -> torch.Tensor:
    """Click counts of ``n_users`` users with tastes z ~ N(0, I), ``n_clicks`` clicks each."""
    rng = np.random.default_rng(seed)
    z = torch.as_tensor(rng.normal(size=(int(n_users), LATENT_DIM)), dtype=model.item_bias.dtype)
    with torch.no_grad():
        pi = model.probabilities(z).cpu().numpy()
    counts = np.stack([rng.multinomial(int(n_clicks), p / p.sum()) for p in pi])
    return torch.as_tensor(counts, dtype=model.item_bias.dtype, device=model.item_bias.device)


class ToyEncoder(torch.nn.Module):
    """q_φ(z | x): the share of each item in x → tanh hidden layer → (μ, log σ²)."""

    def __init__(self, n_items: int, hidden: int = 32):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(n_items, hidden), torch.nn.Tanh(),
                                       torch.nn.Linear(hidden, 2 * LATENT_DIM)).double()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(x / x.sum(-1, keepdim=True))
        return out[:, :LATENT_DIM], out[:, LATENT_DIM:]


def fit_toy_encoder(model: ToyModel, x: torch.Tensor, hidden: int = 32, steps: int = 600,
                    lr: float = 0.01, n_points: int = 8, seed: int = 0) -> ToyEncoder:
    """Train an encoder on the users ``x`` by maximising their mean quadrature ELBO
    (full batch, Adam, ``n_points`` nodes per axis); the decoder stays the toy's own."""
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive whole number, got {steps!r}.")
    torch.manual_seed(seed)
    encoder = ToyEncoder(model.n_items, hidden).to(model.item_bias.device)
    optimiser = torch.optim.Adam(encoder.parameters(), lr=lr)
    for _ in range(int(steps)):
        optimiser.zero_grad()
        loss = -elbo_quadrature_batch(model, x, *encoder(x), n_points=n_points).mean()
        loss.backward()
        optimiser.step()
    return encoder.eval()


def best_gaussians(model: ToyModel, x: torch.Tensor, starts, steps: int = 300,
                   lr: float = 0.05, n_points: int = 12,
                   select_points: int = 60) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-user VI: optimise each user's (μ, log σ²) from every ``(mu, logvar)`` start in
    ``starts`` (with ``n_points`` quadrature nodes per axis), and keep, per user, the best
    of the starts and the optimised results by the accurate ELBO (``select_points`` nodes).
    The starts are candidates too, so the result is never worse than any of them.

    Returns ``(mu, logvar, elbo)`` of the kept Gaussians.
    """
    candidates = []
    for start_mu, start_logvar in starts:
        candidates.append((start_mu.detach(), start_logvar.detach()))
        mu = start_mu.detach().clone().requires_grad_(True)
        logvar = start_logvar.detach().clone().requires_grad_(True)
        optimiser = torch.optim.Adam([mu, logvar], lr=lr)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=int(steps))
        for _ in range(int(steps)):
            optimiser.zero_grad()
            (-elbo_quadrature_batch(model, x, mu, logvar, n_points).sum()).backward()
            optimiser.step()
            schedule.step()
        candidates.append((mu.detach(), logvar.detach()))
    best_mu = best_logvar = best_elbo = None
    with torch.no_grad():
        for mu, logvar in candidates:
            value = elbo_quadrature_batch(model, x, mu, logvar, select_points)
            if best_elbo is None:
                best_mu, best_logvar, best_elbo = mu, logvar, value
                continue
            better = value > best_elbo
            best_mu = torch.where(better[:, None], mu, best_mu)
            best_logvar = torch.where(better[:, None], logvar, best_logvar)
            best_elbo = torch.maximum(value, best_elbo)
    return best_mu, best_logvar, best_elbo


@dataclass
class GapDecomposition:
    """Per held-out toy user: log p(x), ELBO(q*) and ELBO(q_φ), and the two gaps."""

    log_evidence: np.ndarray
    elbo_best: np.ndarray
    elbo_encoder: np.ndarray

    @property
    def approximation_gap(self) -> np.ndarray:
        """log p(x) − ELBO(q*): the cost of a factorised Gaussian q (≥ 0)."""
        return self.log_evidence - self.elbo_best

    @property
    def amortisation_gap(self) -> np.ndarray:
        """ELBO(q*) − ELBO(q_φ): the cost of one shared encoder (≥ 0)."""
        return self.elbo_best - self.elbo_encoder

    def nonnegative(self, tolerance: float = 1e-3) -> bool:
        """Whether every user's approximation gap is ≥ −``tolerance`` (grid and quadrature
        error) and every amortisation gap ≥ 0."""
        return bool((self.approximation_gap > -tolerance).all() and (self.amortisation_gap >= 0).all())

    def ratio(self, statistic=np.mean) -> float:
        """The amortisation gap over the approximation gap, each summarised over the users
        by ``statistic`` (``np.mean`` or ``np.median``)."""
        return float(statistic(self.amortisation_gap) / statistic(self.approximation_gap))

    def describe(self) -> str:
        """Two lines: each gap's mean and median over the users, in nats."""
        return "\n".join(f"  {name + ':':<19}mean {gap.mean():.3f} nats, median {np.median(gap):.3f}"
                         for name, gap in (("approximation gap", self.approximation_gap),
                                           ("amortisation gap", self.amortisation_gap)))


def gap_decomposition(model: ToyModel, n_train: int = 400, n_test: int = 60,
                      n_clicks: int = 8, encoder_steps: int = 600, vi_steps: int = 300,
                      seed: int = 0) -> GapDecomposition:
    """Train an encoder on ``n_train`` toy users, then split the ELBO gap of ``n_test``
    fresh users (never seen by the encoder) into its approximation and amortisation parts."""
    train = draw_toy_users(model, n_train, n_clicks, seed)
    test = draw_toy_users(model, n_test, n_clicks, seed + 1)
    encoder = fit_toy_encoder(model, train, steps=encoder_steps, seed=seed)
    with torch.no_grad():
        mu_phi, logvar_phi = encoder(test)
        elbo_encoder = elbo_quadrature_batch(model, test, mu_phi, logvar_phi, n_points=60)
    prior = (torch.zeros_like(mu_phi), torch.zeros_like(logvar_phi))
    _, _, elbo_best = best_gaussians(model, test, [prior, (mu_phi, logvar_phi)], steps=vi_steps)
    log_evidence = np.array([grid_posterior(model, row.cpu().numpy(), n=241).log_evidence
                             for row in test])
    return GapDecomposition(log_evidence, elbo_best.cpu().numpy(), elbo_encoder.cpu().numpy())
