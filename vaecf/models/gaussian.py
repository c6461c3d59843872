"""Diagonal Gaussian helpers shared by every variational model."""
from __future__ import annotations

import torch

from .inputs import RowShard

__all__ = ["kl_to_standard_normal", "reparameterise"]


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL( N(μ, diag σ²) ‖ N(0, I) ) per row, in closed form:

        ½ Σ_k ( σ_k² + μ_k² − 1 − log σ_k² )
    """
    return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=-1)


def reparameterise(mu: torch.Tensor, logvar: torch.Tensor,
                   generator: torch.Generator | None = None,
                   shard: RowShard | None = None) -> torch.Tensor:
    """z = μ + σ ⊙ ε with ε ~ N(0, I): a sample whose gradient flows to μ and log σ².

    With ``shard``, μ and log σ² are the shard's rows of a larger batch: ε is drawn for the
    whole batch and the shard's rows are used, as one process would draw it.
    """
    shape = mu.shape if shard is None else (shard.total, *mu.shape[1:])
    eps = torch.randn(shape, dtype=mu.dtype, device=mu.device, generator=generator)
    if shard is not None:
        eps = shard.take(eps)
    return mu + eps * torch.exp(0.5 * logvar)
