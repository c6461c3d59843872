"""Notebook 4: a two-dimensional latent toy where variational inference can be checked exactly.

The generative model is the paper's (eq. 1) at toy size: a latent ``z ~ N(0, I_2)``, a
fixed small decoder ``f_θ`` (one tanh hidden layer) and a multinomial over a handful of
items, ``x ~ Mult(N, π(z))`` with ``π(z) = softmax(f_θ(z))``. Because ``z`` has only two
dimensions, the posterior ``p(z | x) ∝ p(x | z) p(z)`` and the evidence ``log p(x)`` can
be computed on a grid, so every variational quantity has an exact reference:

* the ELBO (eq. 5) ``E_q[log p(x | z)] − KL(q ‖ p(z))`` of a diagonal Gaussian ``q``;
* the identity ``log p(x) − ELBO(q) = KL(q ‖ p(z | x))``;
* the reparameterisation and score-function estimators of ``∇_μ ELBO``.

The log-likelihood drops the multinomial coefficient, as the paper does (eq. 2); the
constant cancels in the gap ``log p(x) − ELBO`` and in every gradient.
This module works on the toy only; it is not a recommender.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..likelihoods import multinomial
from ..models.gaussian import kl_to_standard_normal, reparameterise

__all__ = ["ToyModel", "make_toy_model", "GridPosterior", "grid_posterior", "gaussian_log_density",
           "elbo_estimate", "elbo_quadrature", "FittedQ", "fit_gaussian_q", "FitsFromStarts", "fit_from_starts",
           "gradient_estimates", "exact_mu_gradient", "gradient_estimator_stats", "estimator_variances",
           "estimator_table"]

LATENT_DIM = 2


@dataclass
class ToyModel:
    """A fixed decoder ``f_θ(z) = W tanh(A z + a) + b`` from R² to item logits."""

    hidden_weights: torch.Tensor  # A: (hidden, 2)
    hidden_bias: torch.Tensor  # a: (hidden,)
    item_weights: torch.Tensor  # W: (items, hidden)
    item_bias: torch.Tensor  # b: (items,)

    @property
    def n_items(self) -> int:
        return self.item_bias.numel()

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        """``f_θ(z)`` for a batch of latents (..., 2) -> (..., items)."""
        return torch.tanh(z @ self.hidden_weights.T + self.hidden_bias) @ self.item_weights.T \
            + self.item_bias

    def probabilities(self, z: torch.Tensor) -> torch.Tensor:
        """``π(z) = softmax(f_θ(z))`` (eq. 1)."""
        return torch.softmax(self.logits(z), dim=-1)

    def log_likelihood(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``log p(x | z) = Σ_i x_i log π_i(z)`` (eq. 2) for each latent in the batch."""
        logits = self.logits(z)
        flat = logits.reshape(-1, self.n_items)
        return multinomial(flat, x.expand_as(flat)).reshape(logits.shape[:-1])

    def log_joint(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``log p(x | z) + log N(z; 0, I)``."""
        log_prior = -0.5 * (z ** 2).sum(-1) - LATENT_DIM / 2 * math.log(2 * math.pi)
        return self.log_likelihood(z, x) + log_prior

    def sample_clicks(self, z: np.ndarray, n_clicks: int, seed: int) -> np.ndarray:
        """Draw a user's click counts ``x ~ Mult(n_clicks, π(z))`` at latent ``z``."""
        if int(n_clicks) != n_clicks or n_clicks < 1:
            raise ValueError(f"n_clicks must be a positive whole number, got {n_clicks!r}.")
        z = torch.as_tensor(np.asarray(z, dtype=np.float64), dtype=self.item_bias.dtype,
                            device=self.item_bias.device)
        pi = self.probabilities(z).detach().cpu().numpy().astype(np.float64)
        return np.random.default_rng(seed).multinomial(int(n_clicks), pi / pi.sum())


def make_toy_model(n_items: int = 6, hidden: int = 8, scale: float = 2.0, seed: int = 0,
                   device: torch.device | str = "cpu") -> ToyModel:
    """A random but fixed decoder; ``scale`` sharpens the item preferences.

    Everything is float64: the grid integrals below compare quantities to ~1e-6.
    """
    for label, value in (("n_items", n_items), ("hidden", hidden)):
        if int(value) != value or value < 2:
            raise ValueError(f"{label} must be a whole number of at least 2, got {value!r}.")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}.")
    rng = np.random.default_rng(seed)
    tensor = lambda a: torch.as_tensor(a, dtype=torch.float64, device=device)  # noqa: E731
    return ToyModel(hidden_weights=tensor(rng.normal(0.0, 1.5, size=(hidden, LATENT_DIM))),
                    hidden_bias=tensor(rng.normal(0.0, 0.5, size=hidden)),
                    item_weights=tensor(scale * rng.normal(0.0, 1.0 / math.sqrt(hidden),
                                                           size=(n_items, hidden))),
                    item_bias=tensor(rng.normal(0.0, 0.5, size=n_items)))


def _as_clicks(model: ToyModel, x) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=model.item_bias.dtype,
                        device=model.item_bias.device)
    if x.shape != (model.n_items,):
        raise ValueError(f"x must hold one click count per item ({model.n_items}), "
                         f"got shape {tuple(x.shape)}.")
    if (x < 0).any() or x.sum() == 0:
        raise ValueError("x must be non-negative click counts with at least one click.")
    return x


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``log N(z; μ, diag σ²)`` for each latent in the batch."""
    return -0.5 * (((z - mu) ** 2) / logvar.exp() + logvar + math.log(2 * math.pi)).sum(-1)


@dataclass
class GridPosterior:
    """The exact posterior of the toy on a square grid (a Riemann sum over its cells)."""

    axis: np.ndarray  # the grid's coordinates along each latent dimension
    log_joint: np.ndarray  # log p(x, z) at the grid points, [i, j] = (axis[i], axis[j])
    log_evidence: float  # log p(x) = log ∫ p(x, z) dz
    cell_area: float
    model: ToyModel = field(repr=False)

    @property
    def log_posterior(self) -> np.ndarray:
        """``log p(z | x) = log p(x, z) − log p(x)`` at the grid points."""
        return self.log_joint - self.log_evidence

    def points(self) -> torch.Tensor:
        """The grid points as a (n, n, 2) tensor, ``[i, j] = (axis[i], axis[j])``."""
        a = torch.as_tensor(self.axis, dtype=self.model.item_bias.dtype,
                            device=self.model.item_bias.device)
        return torch.stack(torch.meshgrid(a, a, indexing="ij"), dim=-1)

    def prior_and_likelihood(self, x) -> tuple[np.ndarray, np.ndarray]:
        """``(log p(z), log p(x | z))`` at the grid points, the two parts of ``log p(x, z)``
        for the clicks ``x`` the grid was computed for."""
        with torch.no_grad():
            log_likelihood = self.model.log_likelihood(self.points(), _as_clicks(self.model, x)).cpu().numpy()
        return self.log_joint - log_likelihood, log_likelihood

    def log_q(self, mu, logvar) -> np.ndarray:
        """``log q(z)`` of the diagonal Gaussian ``N(μ, diag exp(logvar))`` on the grid."""
        mu, logvar = (torch.as_tensor(np.asarray(v, dtype=np.float64), dtype=torch.float64,
                                      device=self.model.item_bias.device) for v in (mu, logvar))
        return gaussian_log_density(self.points(), mu, logvar).cpu().numpy()

    def kl_from(self, mu, logvar) -> float:
        """``KL(q ‖ p(z | x)) = ∫ q (log q − log p(z | x)) dz`` on the grid, from ``q``'s side."""
        log_q = self.log_q(mu, logvar)
        q = np.exp(log_q)
        mass = q.sum() * self.cell_area
        if abs(mass - 1.0) > 1e-3:
            raise ValueError(f"q puts only {mass:.4f} of its mass on the grid; widen the grid "
                             "(limit) or use a narrower q.")
        return float((q * (log_q - self.log_posterior)).sum() * self.cell_area)

    def posterior_mean(self) -> np.ndarray:
        """``E[z | x]`` on the grid."""
        p = np.exp(self.log_posterior) * self.cell_area
        z1, z2 = np.meshgrid(self.axis, self.axis, indexing="ij")
        return np.array([(p * z1).sum(), (p * z2).sum()])

    def posterior_sd(self) -> np.ndarray:
        """The posterior's standard deviation along each axis, ``sqrt(E[(z_k − E[z_k | x])² | x])``."""
        posterior = np.exp(self.log_posterior)
        mean = self.posterior_mean()
        z1, z2 = np.meshgrid(self.axis, self.axis, indexing="ij")
        return np.sqrt([(posterior * (z - m) ** 2).sum() * self.cell_area
                        for z, m in ((z1, mean[0]), (z2, mean[1]))])


def grid_posterior(model: ToyModel, x, limit: float = 5.0, n: int = 301) -> GridPosterior:
    """Evaluate ``log p(x, z)`` on ``[−limit, limit]²`` and integrate it for ``log p(x)``.

    The prior puts less than 1e-5 of its mass outside ``[−5, 5]²``, so the default grid
    holds essentially all of the posterior too.
    """
    if limit <= 0 or int(n) != n or n < 3:
        raise ValueError(f"need limit > 0 and a whole n ≥ 3 grid points, got {limit}, {n}.")
    x = _as_clicks(model, x)
    axis = np.linspace(-limit, limit, int(n))
    cell_area = float((axis[1] - axis[0]) ** 2)
    grid = GridPosterior(axis, np.empty(0), 0.0, cell_area, model)
    with torch.no_grad():
        log_joint = model.log_joint(grid.points(), x).cpu().numpy()
    top = log_joint.max()
    grid.log_joint = log_joint
    grid.log_evidence = float(top + np.log(np.exp(log_joint - top).sum() * cell_area))
    return grid


def elbo_estimate(model: ToyModel, x, mu: torch.Tensor, logvar: torch.Tensor, n_samples: int,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Monte Carlo ELBO (eq. 5) with the reparameterisation trick; differentiable in μ, log σ².

    ``(1/S) Σ_s log p(x | μ + σ ⊙ ε_s) − KL(q ‖ N(0, I))`` with the KL in closed form.
    """
    x = _as_clicks(model, x)
    z = reparameterise(mu.expand(n_samples, LATENT_DIM), logvar.expand(n_samples, LATENT_DIM),
                       generator=generator)
    return model.log_likelihood(z, x).mean() - kl_to_standard_normal(mu, logvar)


def elbo_quadrature(model: ToyModel, x, mu, logvar, n_points: int = 200) -> torch.Tensor:
    """The ELBO (eq. 5) computed deterministically with Gauss–Hermite quadrature.

    ``E_q[log p(x | z)] ≈ Σ_jk w_j w_k log p(x | μ + √2 σ ⊙ (t_j, t_k)) / π``; exact up to
    the quadrature error, and differentiable in ``μ`` and ``log σ²``.
    """
    x = _as_clicks(model, x)
    dtype, device = model.item_bias.dtype, model.item_bias.device
    mu, logvar = (torch.as_tensor(v, dtype=dtype, device=device) for v in (mu, logvar))
    nodes, weights = np.polynomial.hermite.hermgauss(int(n_points))
    t = torch.as_tensor(nodes, dtype=dtype, device=device)
    w = torch.as_tensor(weights, dtype=dtype, device=device)
    tt = torch.stack(torch.meshgrid(t, t, indexing="ij"), dim=-1)
    ww = w[:, None] * w[None, :] / math.pi
    z = mu + math.sqrt(2.0) * torch.exp(0.5 * logvar) * tt
    return (ww * model.log_likelihood(z, x)).sum() - kl_to_standard_normal(mu, logvar)


@dataclass
class FittedQ:
    """A diagonal Gaussian ``q(z) = N(μ, diag exp(logvar))`` and its ELBO trace."""

    mu: np.ndarray
    logvar: np.ndarray
    elbo_trace: np.ndarray  # the Monte Carlo ELBO at each optimisation step

    @property
    def sigma(self) -> np.ndarray:
        """The standard deviation of ``q`` per axis, ``exp(logvar / 2)``."""
        return np.exp(self.logvar / 2)


def fit_gaussian_q(model: ToyModel, x, steps: int = 1500, n_samples: int = 16, lr: float = 0.05,
                   seed: int = 0, init_mu=(0.0, 0.0)) -> FittedQ:
    """Maximise the ELBO over ``μ`` and ``log σ²`` of one user's ``q`` by stochastic gradients.

    This is per-user (non-amortised) variational inference: the two vectors are this
    user's own parameters. Starts from ``N(init_mu, I)`` (the prior by default); Adam on
    the reparameterised Monte Carlo ELBO. The ELBO is not concave in ``μ``: different
    starts can end in different local optima.
    """
    if int(steps) != steps or steps < 1 or int(n_samples) != n_samples or n_samples < 1:
        raise ValueError(f"steps and n_samples must be positive whole numbers, got {steps}, "
                         f"{n_samples}.")
    x = _as_clicks(model, x)
    dtype, device = model.item_bias.dtype, model.item_bias.device
    generator = torch.Generator(device=device).manual_seed(seed)
    mu = torch.as_tensor(np.asarray(init_mu, dtype=np.float64), dtype=dtype, device=device)
    if mu.shape != (LATENT_DIM,):
        raise ValueError(f"init_mu must have {LATENT_DIM} entries, got shape {tuple(mu.shape)}.")
    mu = mu.clone().requires_grad_(True)
    logvar = torch.zeros(LATENT_DIM, dtype=dtype, device=device, requires_grad=True)
    optimiser = torch.optim.Adam([mu, logvar], lr=lr)
    trace = np.empty(int(steps))
    for step in range(int(steps)):
        optimiser.zero_grad()
        loss = -elbo_estimate(model, x, mu, logvar, int(n_samples), generator)
        loss.backward()
        optimiser.step()
        trace[step] = -loss.item()
    return FittedQ(mu.detach().cpu().numpy(), logvar.detach().cpu().numpy(), trace)


@dataclass
class FitsFromStarts:
    """One user's ``q`` fitted from several starts, each measured exactly: ``{start: ...}``
    of the fit, its ELBO (eq. 5, by quadrature), its KL to the posterior (on the grid) and
    the gap ``log p(x) − ELBO``, which equals that KL; ``log_evidence`` is ``log p(x)``."""

    fits: dict
    elbo: dict
    kl: dict
    gap: dict
    log_evidence: float

    @property
    def best(self) -> str:
        """The start whose fit reached the highest ELBO (the smallest KL to the posterior)."""
        return max(self.elbo, key=self.elbo.get)

    @property
    def elbo_spread(self) -> float:
        """The highest fitted ELBO minus the lowest: how far apart the starts ended."""
        return max(self.elbo.values()) - min(self.elbo.values())

    def bounded(self, tolerance: float = 1e-3) -> bool:
        """Whether every fitted ELBO stays ≤ log p(x) and every gap equals the KL to the
        posterior within ``tolerance`` nats (grid and quadrature error)."""
        return all(self.elbo[name] <= self.log_evidence and abs(self.gap[name] - self.kl[name]) < tolerance
                   for name in self.fits)

    def describe(self, name: str, elbo_prior: float) -> str:
        """Three lines on the fit from ``name``: its μ and σ, its ELBO beside q = prior's
        (``elbo_prior``) and log p(x), and its gap beside its KL to the posterior."""
        fit, elbo, gap, kl = self.fits[name], self.elbo[name], self.gap[name], self.kl[name]
        return (f"q {name}: μ = {np.round(fit.mu, 3)}, σ = {np.round(fit.sigma, 3)}\n"
                f"   ELBO {elbo:.4f} (q = prior: {elbo_prior:.4f}; log p(x) = {self.log_evidence:.4f})\n"
                f"   log p(x) − ELBO = {gap:.5f}   KL(q ‖ posterior) on the grid = {kl:.5f}   "
                f"difference {abs(gap - kl):.1e}   ELBO ≤ log p(x): {elbo <= self.log_evidence}")


def fit_from_starts(model: ToyModel, x, grid: GridPosterior, starts: dict, **fit) -> FitsFromStarts:
    """Fit ``q`` by :func:`fit_gaussian_q` from each of ``starts`` (``{name: initial μ}``)
    and measure each fit exactly (:class:`FitsFromStarts`).

    ``fit`` is passed on to :func:`fit_gaussian_q` (steps, n_samples, lr, seed).
    """
    fits, elbo, kl, gap = {}, {}, {}, {}
    for name, init in starts.items():
        fits[name] = fit_gaussian_q(model, x, init_mu=init, **fit)
        elbo[name] = elbo_quadrature(model, x, fits[name].mu, fits[name].logvar).item()
        kl[name] = grid.kl_from(fits[name].mu, fits[name].logvar)
        gap[name] = grid.log_evidence - elbo[name]
    return FitsFromStarts(fits, elbo, kl, gap, grid.log_evidence)


def gradient_estimates(model: ToyModel, x, mu, logvar, method: str, n_samples: int,
                       n_repeats: int, seed: int = 0) -> np.ndarray:
    """``n_repeats`` independent estimates of ``∇_μ ELBO``, each from ``n_samples`` draws of q.

    Both estimators treat the KL term exactly (its gradient is ``μ``) and differ in
    ``∇_μ E_q[log p(x | z)]``:

    * ``"reparam"``: ``(1/S) Σ_s ∇_z log p(x | z_s)`` at ``z_s = μ + σ ⊙ ε_s``;
    * ``"score"`` (REINFORCE): ``(1/S) Σ_s log p(x | z_s) ∇_μ log q(z_s)`` with
      ``∇_μ log q(z) = (z − μ) / σ²``; it needs no gradient of the model.

    Returns an array (n_repeats, 2).
    """
    if method not in ("reparam", "score"):
        raise ValueError(f"method must be 'reparam' or 'score', got {method!r}.")
    if int(n_samples) != n_samples or n_samples < 1 or int(n_repeats) != n_repeats or n_repeats < 1:
        raise ValueError(f"n_samples and n_repeats must be positive whole numbers, got "
                         f"{n_samples}, {n_repeats}.")
    x = _as_clicks(model, x)
    dtype, device = model.item_bias.dtype, model.item_bias.device
    mu, logvar = (torch.as_tensor(np.asarray(v, dtype=np.float64), dtype=dtype, device=device)
                  for v in (mu, logvar))
    generator = torch.Generator(device=device).manual_seed(seed)
    eps = torch.randn((int(n_repeats), int(n_samples), LATENT_DIM), dtype=dtype, device=device,
                      generator=generator)
    sigma = torch.exp(0.5 * logvar)
    if method == "reparam":
        z = (mu + sigma * eps).requires_grad_(True)
        (grad_z,) = torch.autograd.grad(model.log_likelihood(z, x).sum(), z)
        expectation = grad_z.mean(dim=1)
    else:
        with torch.no_grad():
            z = mu + sigma * eps
            expectation = (model.log_likelihood(z, x)[..., None] * eps / sigma).mean(dim=1)
    return (expectation - mu).detach().cpu().numpy()


def exact_mu_gradient(model: ToyModel, x, mu, logvar, n_points: int = 200) -> np.ndarray:
    """``∇_μ ELBO`` by differentiating the quadrature ELBO: the estimators' common target."""
    mu = torch.as_tensor(np.asarray(mu, dtype=np.float64), dtype=model.item_bias.dtype,
                         device=model.item_bias.device).clone().requires_grad_(True)
    logvar = torch.as_tensor(np.asarray(logvar, dtype=np.float64), dtype=model.item_bias.dtype,
                             device=model.item_bias.device)
    (grad,) = torch.autograd.grad(elbo_quadrature(model, x, mu, logvar, n_points), mu)
    return grad.cpu().numpy()


def gradient_estimator_stats(model: ToyModel, x, mu, logvar, exact_gradient, sample_sizes,
                             n_repeats: int, seed: int = 0) -> dict:
    """How far each estimator of ``∇_μ ELBO`` lies from the exact gradient, and how noisy it is.

    For each method (``"reparam"``, ``"score"``) and each S in ``sample_sizes``,
    ``n_repeats`` estimates of :func:`gradient_estimates` with S samples each (seed
    ``seed + S``). Returns ``{(method, S): {"mean", "variance", "z"}}``: the mean estimate,
    the total variance (summed over the two coordinates) and, per coordinate,
    ``|mean − exact| / standard error of the mean`` (about 2 or less for an unbiased estimator).
    """
    stats = {}
    for method in ("reparam", "score"):
        for S in sample_sizes:
            g = gradient_estimates(model, x, mu, logvar, method, n_samples=S, n_repeats=n_repeats,
                                   seed=seed + S)
            standard_error = g.std(axis=0, ddof=1) / np.sqrt(n_repeats)
            stats[method, S] = {"mean": g.mean(axis=0), "variance": g.var(axis=0, ddof=1).sum(),
                                "z": np.abs(g.mean(axis=0) - exact_gradient) / standard_error}
    return stats


def estimator_variances(stats: dict, sample_sizes, method: str) -> np.ndarray:
    """The total variance of ``method``'s estimates at each S of ``sample_sizes``, from
    :func:`gradient_estimator_stats`."""
    try:
        return np.array([stats[method, S]["variance"] for S in sample_sizes])
    except KeyError as missing:
        raise ValueError(f"no statistics for {missing}; compute them with gradient_estimator_stats "
                         "for these sample sizes.") from None


def estimator_table(stats: dict, sample_sizes) -> str:
    """A text table of :func:`gradient_estimator_stats`: per S and method, the mean estimate,
    its largest distance from the exact gradient in standard errors, and the total variance."""
    lines = [f"{'S':>4} {'method':>8} {'mean of the estimates':>24} {'|mean − exact| / s.e.':>22} "
             f"{'total variance':>15}"]
    for S in sample_sizes:
        for method in ("reparam", "score"):
            s = stats[method, S]
            lines.append(f"{S:4d} {method:>8} {str(np.round(s['mean'], 2)):>24} {s['z'].max():22.2f} "
                         f"{s['variance']:15.2f}")
    return "\n".join(lines)
