"""RecVAE (Shenbin, Alekseev, Tutubalina, Malykh & Nikolenko, WSDM 2020): Mult-VAE with
four changes, each of which can be switched off here so their effects can be measured one
at a time (numbered in the order notebook 9 adds them, ``vaecf.experiments.ablation.IDEAS``).

1. **The encoder** (§3.2): five dense layers of 600 units, each followed by swish and
   layer normalisation, each layer's input the previous layer's output plus the outputs of
   all layers before it (dense skip connections); a linear layer to μ and log σ². Off:
   Mult-VAE's encoder [I → 600 → 2 × 200] with tanh. The decoder is one linear layer
   z → items (``decoder="mlp"``: Mult-VAE's [200 → 600 → I] with tanh).
2. **β rescaled by the user's clicks** (§3.4): the KL weight of user u is β' = γ |x_u|,
   so a user with many clicks, whose reconstruction term is large, gets a KL term on the
   same scale. Off: the β of the training schedule (Mult-VAE's annealing), the same for
   every user.
3. **Composite prior** (§3.3). The prior of a user's code mixes a standard normal,
   the posterior of the *previous epoch's* encoder for the same user, and a wide Gaussian:

       p(z | φ_old, x) = w₁ N(z | 0, I) + w₂ q_φold(z | x) + w₃ N(z | 0, e^{10} I),

   with (w₁, w₂, w₃) = (3/20, 3/4, 1/10), the weights and the wide component of the
   authors' published implementation. The KL term then keeps the posterior near where
   it was an epoch ago (like a trust region), so the alternately trained encoder and
   decoder do not drift apart. The mixture is of the whole code's densities; its KL from
   q has no closed form and is estimated from the reparameterised sample,
   KL ≈ log q_φ(z | x) − log p(z | φ_old, x). Off: the standard normal prior with its
   closed-form KL (Mult-VAE's).
4. **Alternating updates** (§3.5): each epoch the encoder is trained for
   ``encoder_passes`` passes over the users with the decoder fixed (input dropout on),
   then the decoder for one pass with the encoder fixed and no input dropout; after the
   epoch the prior's q_φold takes the encoder's weights. Off: one joint pass per epoch
   (the prior's copy is still refreshed every epoch). Since q_φold stays fixed for the
   whole epoch, the encoder passes read each user's prior from a table computed once
   before them (:meth:`RecVAE.remember_prior`) instead of running q_φold in every pass.

With every switch off the model is Mult-VAE. Only the multinomial likelihood is offered.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .autoencoders import AutoencoderRecommender, _check_dims, _mlp, _run
from .gaussian import kl_to_standard_normal, reparameterise
from .inputs import SparseInputLinear, csr_to_torch, normalise_rows, sparse_dropout

__all__ = ["RecVAE", "composite_prior_log_density", "composite_prior_on_a_line",
           "gaussian_log_density", "PRIOR_WEIGHTS", "WIDE_LOGVAR"]

PRIOR_WEIGHTS = (3 / 20, 3 / 4, 1 / 10)
"""The composite prior's weights: standard normal, previous posterior, wide Gaussian."""
WIDE_LOGVAR = 10.0
"""log σ² of the composite prior's wide component, N(0, e^{10} I)."""
_LOG_2PI = math.log(2 * math.pi)


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z | μ, diag σ²) per row: −½ Σ_k (log 2π + log σ²_k + (z_k − μ_k)² / σ²_k)."""
    return -0.5 * (_LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(dim=-1)


def composite_prior_log_density(z: torch.Tensor, old_mu: torch.Tensor, old_logvar: torch.Tensor,
                                weights=PRIOR_WEIGHTS, wide_logvar: float = WIDE_LOGVAR) -> torch.Tensor:
    """log p(z | φ_old, x) of the composite prior per row (RecVAE §3.3), by log-sum-exp:

        log Σ_j w_j N(z | μ_j, σ²_j),  components N(0, I), q_φold(z|x) = N(old_mu, old σ²),
        N(0, e^{wide_logvar} I).
    """
    zeros = torch.zeros_like(z)
    components = torch.stack([
        gaussian_log_density(z, zeros, zeros),
        gaussian_log_density(z, old_mu, old_logvar),
        gaussian_log_density(z, zeros, torch.full_like(z, wide_logvar))], dim=-1)
    log_weights = torch.log(torch.tensor(weights, dtype=z.dtype, device=z.device))
    return torch.logsumexp(components + log_weights, dim=-1)


def composite_prior_on_a_line(old_mu: float, old_logvar: float, half_width: float = 600.0,
                              points: int = 600_001):
    """Notebook 9: the composite prior of a one-dimensional code on an even grid of
    [−half_width, half_width], in float64, and its total mass by the trapezoid rule (≈ 1:
    the wide component N(0, e^{10}) has a standard deviation of about 148, so the grid
    must reach several hundred to hold its mass).

    Returns ``(z, density, mass)``: the grid, the density on it and its integral.
    """
    z = torch.linspace(-half_width, half_width, points, dtype=torch.float64)[:, None]
    density = composite_prior_log_density(z, torch.full_like(z, old_mu),
                                          torch.full_like(z, old_logvar)).exp()
    return z[:, 0], density, torch.trapezoid(density, z[:, 0]).item()


class DenseEncoder(nn.Module):
    """RecVAE's encoder body: h_1 = LN(swish(W_1 x)), h_l = LN(swish(W_l h_{l−1} + Σ_{j<l} h_j))."""

    def __init__(self, n_items: int, hidden: int, n_layers: int):
        super().__init__()
        self.first = SparseInputLinear(n_items, hidden)
        self.layers = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(n_layers - 1))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(n_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norms[0](F.silu(self.first(x)))
        skip = h
        for layer, norm in zip(self.layers, self.norms[1:]):
            h = norm(F.silu(layer(h) + skip))
            skip = skip + h
        return h


class RecVAE(AutoencoderRecommender):
    """RecVAE with each of its ideas a switch (see the module docstring).

    Args:
        n_items: the catalogue size.
        hidden: the encoder's layer width (600); ``latent_dim``: the code's size (200).
        n_layers: the dense encoder's layers (5).
        dropout: the input dropout while the encoder trains (0.5).
        gamma: γ of β' = γ |x_u| (0.005, the paper's ML-20M value).
        user_beta, composite_prior, alternating: the switches of ideas 2–4.
        encoder: ``"dense"`` (RecVAE's) or ``"mlp"`` (Mult-VAE's); decoder: ``"linear"``
            (RecVAE's) or ``"mlp"`` (Mult-VAE's).
        encoder_passes: encoder passes per decoder pass when alternating (3).
    """

    def __init__(self, n_items: int, hidden: int = 600, latent_dim: int = 200, n_layers: int = 5,
                 dropout: float = 0.5, gamma: float = 0.005, composite_prior: bool = True,
                 user_beta: bool = True, alternating: bool = True, encoder: str = "dense",
                 decoder: str = "linear", encoder_passes: int = 3):
        _check_dims(n_items, (hidden, latent_dim, n_layers, encoder_passes), dropout)
        if encoder not in ("dense", "mlp") or decoder not in ("linear", "mlp"):
            raise ValueError(f"encoder must be 'dense' or 'mlp' and decoder 'linear' or 'mlp', "
                             f"got encoder={encoder!r}, decoder={decoder!r}.")
        if not gamma > 0 or math.isinf(gamma):
            raise ValueError(f"gamma (β' = γ |x_u|) must be a positive finite number, got {gamma}.")
        super().__init__(n_items, dropout, "multinomial", 0.0)
        self.hidden, self.latent_dim, self.n_layers = int(hidden), int(latent_dim), int(n_layers)
        self.gamma, self.encoder_passes = float(gamma), int(encoder_passes)
        self.composite_prior, self.user_beta = bool(composite_prior), bool(user_beta)
        self.alternating, self.encoder_kind, self.decoder_kind = bool(alternating), encoder, decoder
        self.uses_kl = not self.user_beta  # the training schedule's β is used only when off
        if encoder == "dense":
            self.encoder = nn.ModuleDict({"body": DenseEncoder(self.n_items, self.hidden, self.n_layers),
                                          "head": nn.Linear(self.hidden, 2 * self.latent_dim)})
        else:
            self.encoder = nn.ModuleDict({"mlp": _mlp((self.n_items, self.hidden, 2 * self.latent_dim),
                                                      first_sparse=True)})
        self.decoder = (_mlp((self.latent_dim, self.hidden, self.n_items)) if decoder == "mlp"
                        else nn.Linear(self.latent_dim, self.n_items))
        self._init_weights()
        self.prior_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        self.phase = "joint"
        self._prior_table = None

    def _encode_with(self, encoder: nn.ModuleDict, x: torch.Tensor):
        if self.encoder_kind == "dense":
            h = encoder["head"](encoder["body"](x))
        else:
            h = _run(encoder["mlp"], x)
        return h[:, : self.latent_dim], h[:, self.latent_dim:]

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """L2-normalised clicks, with input dropout while training, except in a decoder phase."""
        if x.shape[-1] != self.n_items:
            raise ValueError(f"the batch has {x.shape[-1]} items but the model was built for "
                             f"{self.n_items}; use the same item set as in training.")
        return sparse_dropout(normalise_rows(x), self.dropout,
                              self.training and self.phase != "decoder")

    def encode(self, x: torch.Tensor):
        """μ and log σ² of q_φ(z | x) for a batch of click rows."""
        return self._encode_with(self.encoder, self.prepare_input(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return _run(self.decoder, z) if self.decoder_kind == "mlp" else self.decoder(z)

    def forward(self, x: torch.Tensor):
        mu, logvar = self.encode(x)
        z = reparameterise(mu, logvar) if self.training else mu
        return self.decode(z), mu, logvar, z

    def kl_terms(self, x: torch.Tensor, mu, logvar, z, users=None) -> torch.Tensor:
        """Each user's KL(q_φ(z|x) ‖ prior): a one-sample estimate under the composite
        prior, the closed form under the standard normal. ``users`` (the rows of ``x`` in
        the training matrix) let the prior be read from :meth:`remember_prior`'s table."""
        if not self.composite_prior:
            return kl_to_standard_normal(mu, logvar)
        if users is not None and self._prior_table is not None:
            old = self._prior_table[torch.as_tensor(users, device=self._prior_table.device)]
            old_mu, old_logvar = old[:, : self.latent_dim], old[:, self.latent_dim:]
        else:
            old_mu, old_logvar = self._previous_posterior(x)
        return gaussian_log_density(z, mu, logvar) - composite_prior_log_density(z, old_mu, old_logvar)

    @torch.no_grad()
    def _previous_posterior(self, x: torch.Tensor):
        """μ and log σ² of q_φold(z | x), the previous epoch's encoder, on the undropped clicks."""
        return self._encode_with(self.prior_encoder, normalise_rows(x))

    @torch.no_grad()
    def remember_prior(self, train, batch_size: int = 500) -> None:
        """Before a phase's passes over ``train`` (CSR, users × items): in an encoder phase
        under the composite prior, q_φold's μ and log σ² for every user, so that the
        ``encoder_passes`` passes read them (``loss(x, users=rows)``) instead of running
        the previous epoch's encoder once per pass. The table is computed in batches of
        ``batch_size`` users in row order, so it depends only on the weights and the
        data: a run resumed from a checkpoint computes the same one. ``end_epoch``
        forgets it; in any other phase there is none (a joint pass sees each user once,
        so a table would save nothing, and a decoder pass needs no prior).

        Memory: 2 × latent_dim numbers per user (ML-20M: about 0.2 GB in float32).
        """
        self._prior_table = None
        if self.phase != "encoder" or not self.composite_prior:
            return
        for start in range(0, train.shape[0], batch_size):
            x = csr_to_torch(train[start:start + batch_size], self.device)
            code = torch.cat(self._previous_posterior(x), dim=1)
            if self._prior_table is None:
                self._prior_table = code.new_empty((train.shape[0], code.shape[1]))
            self._prior_table[start:start + batch_size] = code

    def kl_weights(self, x: torch.Tensor, beta: float) -> torch.Tensor | float:
        """β' = γ |x_u| per user (idea 2), or the schedule's β for all."""
        if not self.user_beta:
            return beta
        clicks = torch.sparse.sum(x, dim=1).to_dense() if x.is_sparse else x.sum(dim=1)
        return self.gamma * clicks

    def loss(self, x: torch.Tensor, beta: float = 0.0, users=None) -> dict:
        """−(E_q[log p(x|z)] − β'_u KL_u), mean over users (RecVAE eq. 9 with idea 2's β').

        ``users``: the rows of ``x`` in the training matrix, to read their prior from
        :meth:`remember_prior`'s table when there is one. In a decoder pass the KL term is
        left out (``loss`` is the reconstruction term and ``kl`` is reported as 0): it does
        not depend on the decoder, so the decoder's gradient is the same without it, and
        the previous epoch's encoder need not run.
        """
        logits, mu, logvar, z = (t.float() for t in self(x))
        nll = -self.likelihood(logits, x).mean()
        if self.phase == "decoder":
            return {"loss": nll, "nll": nll, "kl": torch.zeros_like(nll)}
        kl = self.kl_terms(x, mu, logvar, z, users)
        weighted = (self.kl_weights(x, beta) * kl).mean()
        return {"loss": nll + weighted, "nll": nll, "kl": kl.mean()}

    def training_phases(self) -> list[tuple[str, int]]:
        """An epoch's passes: ``[("encoder", passes), ("decoder", 1)]``, or ``[("joint", 1)]``."""
        if self.alternating:
            return [("encoder", self.encoder_passes), ("decoder", 1)]
        return [("joint", 1)]

    def start_phase(self, phase: str) -> None:
        """Let only the phase's parameters learn: ``encoder``, ``decoder`` or ``joint`` (both)."""
        if phase not in ("encoder", "decoder", "joint"):
            raise ValueError(f"phase must be 'encoder', 'decoder' or 'joint', got {phase!r}.")
        self.phase = phase
        self.encoder.requires_grad_(phase != "decoder")
        self.decoder.requires_grad_(phase != "encoder")

    def end_epoch(self) -> None:
        """The prior's q_φold takes the encoder's current weights (the table of the old
        prior is dropped); both parts learn again."""
        self.prior_encoder.load_state_dict(self.encoder.state_dict())
        self._prior_table = None
        self.start_phase("joint")

    def config(self) -> dict:
        return {"model": "RecVAE", "n_items": self.n_items, "hidden": self.hidden,
                "latent_dim": self.latent_dim, "n_layers": self.n_layers, "dropout": self.dropout,
                "gamma": self.gamma, "composite_prior": self.composite_prior,
                "user_beta": self.user_beta, "alternating": self.alternating,
                "encoder": self.encoder_kind, "decoder": self.decoder_kind,
                "encoder_passes": self.encoder_passes}
