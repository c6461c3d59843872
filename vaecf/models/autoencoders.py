"""Mult-VAE and Mult-DAE (Liang et al. 2018, §2–3), as in the authors' published code,
and the plain autoencoder they both grow from.

All read a user's click vector, L2-normalise it (Mult-DAE and Mult-VAE then apply input
dropout in training) and output item logits ``f_θ``; items are ranked by the logits. The
likelihood (multinomial eq. 2, Gaussian eq. 3, logistic eq. 4) is a constructor argument.
The taxonomy: AE (deterministic code, no noise) → Mult-DAE (noise on the input) →
Mult-VAE (noise on the code, and a KL term that shapes it).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from ..likelihoods import get_likelihood
from .gaussian import kl_to_standard_normal, reparameterise
from .inputs import RowShard, SparseInputLinear, csr_to_torch, normalise_rows, sparse_dropout

__all__ = ["AutoencoderRecommender", "AE", "MultVAE", "MultDAE"]


def _check_dims(n_items, dims, dropout):
    if isinstance(n_items, bool) or int(n_items) != n_items or n_items < 1:
        raise ValueError(f"n_items must be a positive whole number, got {n_items!r}.")
    for d in dims:
        if isinstance(d, bool) or int(d) != d or d < 1:
            raise ValueError(f"layer sizes must be positive whole numbers, got {list(dims)}.")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout}.")


def _mlp(dims, first_sparse=False) -> nn.ModuleList:
    layers = nn.ModuleList()
    for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append((SparseInputLinear if first_sparse and i == 0 else nn.Linear)(d_in, d_out))
    return layers


def _run(layers, h):
    """Apply the layers with tanh between them (none after the last)."""
    for i, layer in enumerate(layers):
        h = layer(h)
        if i < len(layers) - 1:
            h = torch.tanh(h)
    return h


class AutoencoderRecommender(nn.Module):
    """What the Mult-* models share: input handling, the L2 penalty, and scoring."""

    uses_kl = False

    def __init__(self, n_items, dropout, likelihood, l2):
        super().__init__()
        if l2 < 0:
            raise ValueError(f"the L2 penalty λ must not be negative, got {l2}.")
        self.n_items = int(n_items)
        self.dropout = float(dropout)
        self.likelihood_name = likelihood
        self.likelihood = get_likelihood(likelihood)
        self.l2 = float(l2)

    def _init_weights(self):
        for module in self.modules():
            if isinstance(module, (nn.Linear, SparseInputLinear)):
                nn.init.xavier_uniform_(module.weight)  # U(±√(6 / (fan in + fan out)))
                nn.init.normal_(module.bias, std=0.001)

    def prepare_input(self, x: torch.Tensor, shard: RowShard | None = None) -> torch.Tensor:
        """The normalised, dropped-out clicks; with ``shard``, only the shard's rows of ``x``
        (the dropout drawn for the whole batch, as one process would draw it)."""
        if x.shape[-1] != self.n_items:
            raise ValueError(f"the batch has {x.shape[-1]} items but the model was built for "
                             f"{self.n_items}; use the same item set as in training.")
        x = sparse_dropout(normalise_rows(x), self.dropout, self.training)
        return x if shard is None else shard.take(x)

    def weight_penalty(self) -> torch.Tensor:
        """λ Σ ‖W‖² over the weight matrices (not the biases); with λ = 0 no pass over them."""
        if self.l2 == 0:
            return torch.zeros((), device=self.device)
        return self.l2 * sum((m.weight ** 2).sum() for m in self.modules()
                              if isinstance(m, (nn.Linear, SparseInputLinear)))

    def loss(self, x: torch.Tensor, beta: float = 0.0, shard: RowShard | None = None) -> dict:
        """For a deterministic code (AE, Mult-DAE): −log p(x | f_θ(g_φ(x̃))) + λ Σ‖W‖²,
        mean over users; β is ignored (there is no KL term). Mult-VAE overrides this.

        With ``shard``, the loss of the shard's users of the batch ``x``
        (:class:`~vaecf.models.inputs.RowShard`)."""
        logits = self(x, shard)[0].float()  # float32 even when the products ran in bfloat16
        target = x if shard is None else shard.take(x)
        nll = -self.likelihood(logits, target).mean()
        zero = torch.zeros((), device=logits.device)
        return {"loss": nll + self.weight_penalty(), "nll": nll, "kl": zero}

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @torch.no_grad()
    def score(self, fold_in) -> np.ndarray:
        """Item scores (logits) for a CSR batch of users' fold-in clicks."""
        was_training = self.training
        self.eval()
        logits = self(csr_to_torch(fold_in, self.device))[0]
        self.train(was_training)
        return logits.float().cpu().numpy()


class MultVAE(AutoencoderRecommender):
    """Mult-VAE: q_φ(z|x) = N(μ_φ(x), diag σ²_φ(x)), p_θ(x|z) from f_θ(z) (paper §2.2).

    Paper architecture: [I → 600 → 200 → 600 → I] with tanh; the encoder's last layer
    outputs μ and log σ² (2 × 200). z is sampled in training and z = μ when scoring.
    Loss: the negative β-ELBO of eq. (6), averaged over the batch.
    """

    uses_kl = True

    def __init__(self, n_items: int, hidden_dims=(600,), latent_dim: int = 200,
                 dropout: float = 0.5, likelihood: str = "multinomial", l2: float = 0.0):
        hidden_dims = tuple(hidden_dims)
        _check_dims(n_items, hidden_dims + (latent_dim,), dropout)
        super().__init__(n_items, dropout, likelihood, l2)
        self.hidden_dims, self.latent_dim = hidden_dims, int(latent_dim)
        self.encoder = _mlp((self.n_items,) + hidden_dims + (2 * self.latent_dim,), first_sparse=True)
        self.decoder = _mlp((self.latent_dim,) + hidden_dims[::-1] + (self.n_items,))
        self._init_weights()

    def encode(self, x: torch.Tensor, shard: RowShard | None = None):
        """μ and log σ² of q_φ(z | x) for a batch of click rows (the shard's rows, if given)."""
        h = _run(self.encoder, self.prepare_input(x, shard))
        return h[:, : self.latent_dim], h[:, self.latent_dim:]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return _run(self.decoder, z)

    def forward(self, x: torch.Tensor, shard: RowShard | None = None):
        mu, logvar = self.encode(x, shard)
        z = reparameterise(mu, logvar, shard=shard) if self.training else mu
        return self.decode(z), mu, logvar

    def loss(self, x: torch.Tensor, beta: float, shard: RowShard | None = None) -> dict:
        """−ELBO_β (eq. 6) = −E_q[log p(x|z)] + β KL(q(z|x) ‖ p(z)), mean over users
        (the shard's users of the batch ``x``, if given)."""
        logits, mu, logvar = (t.float() for t in self(x, shard))  # float32 under bf16 autocast
        target = x if shard is None else shard.take(x)
        nll = -self.likelihood(logits, target).mean()
        kl = kl_to_standard_normal(mu, logvar).mean()
        return {"loss": nll + beta * kl + self.weight_penalty(), "nll": nll, "kl": kl}

    def config(self) -> dict:
        return {"model": "MultVAE", "n_items": self.n_items, "hidden_dims": list(self.hidden_dims),
                "latent_dim": self.latent_dim, "dropout": self.dropout,
                "likelihood": self.likelihood_name, "l2": self.l2}


class MultDAE(AutoencoderRecommender):
    """Mult-DAE: a denoising autoencoder with a multinomial likelihood (paper §2.3).

    Paper architecture: [I → 200 → I] with tanh, input dropout 0.5 as the noise, and an
    L2 penalty λ = 0.01 / batch size on the weights; no KL term.
    """

    def __init__(self, n_items: int, hidden_dims=(200,), dropout: float = 0.5,
                 likelihood: str = "multinomial", l2: float = 0.01 / 500):
        hidden_dims = tuple(hidden_dims)
        _check_dims(n_items, hidden_dims, dropout)
        super().__init__(n_items, dropout, likelihood, l2)
        self.hidden_dims = hidden_dims
        self.encoder = _mlp((self.n_items,) + hidden_dims, first_sparse=True)
        self.decoder = _mlp(hidden_dims[::-1] + (self.n_items,))
        self._init_weights()

    def forward(self, x: torch.Tensor, shard: RowShard | None = None):
        h = torch.tanh(_run(self.encoder, self.prepare_input(x, shard)))
        return (_run(self.decoder, h),)

    def config(self) -> dict:
        return {"model": "MultDAE", "n_items": self.n_items, "hidden_dims": list(self.hidden_dims),
                "dropout": self.dropout, "likelihood": self.likelihood_name, "l2": self.l2}


class AE(AutoencoderRecommender):
    """A plain autoencoder: Mult-VAE's network with the noise and the KL term taken away.

    Same sizes as Mult-VAE, [I → 600 → 200 → 600 → I] with tanh, but the code is the
    deterministic ``z = g_φ(x)`` (what Mult-VAE's μ would be) and there is no input dropout.
    Loss: −log p(x | f_θ(g_φ(x))) + λ Σ‖W‖², mean over users. Equivalently, Mult-VAE with
    σ → 0 and β = 0.
    """

    def __init__(self, n_items: int, hidden_dims=(600,), latent_dim: int = 200,
                 likelihood: str = "multinomial", l2: float = 0.0):
        hidden_dims = tuple(hidden_dims)
        _check_dims(n_items, hidden_dims + (latent_dim,), 0.0)
        super().__init__(n_items, 0.0, likelihood, l2)
        self.hidden_dims, self.latent_dim = hidden_dims, int(latent_dim)
        self.encoder = _mlp((self.n_items,) + hidden_dims + (self.latent_dim,), first_sparse=True)
        self.decoder = _mlp((self.latent_dim,) + hidden_dims[::-1] + (self.n_items,))
        self._init_weights()

    def encode(self, x: torch.Tensor, shard: RowShard | None = None) -> torch.Tensor:
        """The code z = g_φ(x) of a batch of click rows (the shard's rows, if given)."""
        return _run(self.encoder, self.prepare_input(x, shard))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return _run(self.decoder, z)

    def forward(self, x: torch.Tensor, shard: RowShard | None = None):
        z = self.encode(x, shard)
        return self.decode(z), z

    def config(self) -> dict:
        return {"model": "AE", "n_items": self.n_items, "hidden_dims": list(self.hidden_dims),
                "latent_dim": self.latent_dim, "likelihood": self.likelihood_name, "l2": self.l2}
