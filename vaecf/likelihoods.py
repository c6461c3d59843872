"""Log-likelihoods log p(x_u | z_u) for a user's click vector (paper §2, eqs. 2–4).

Each function takes the decoder's output ``f`` (logits, users × items) and the clicks
``x`` (dense or sparse) and returns one log-likelihood per user. All three rank items by
``f``, so the same network serves every likelihood; they differ in how the training
signal spreads over clicked and unclicked items.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["LIKELIHOODS", "multinomial", "gaussian", "logistic", "get_likelihood"]


def _dense(x: torch.Tensor) -> torch.Tensor:
    return x.to_dense() if x.is_sparse else x


def multinomial(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Eq. (2): log p(x_u) = Σ_i x_ui log π_i(z_u), π = softmax(f).

    The items share a fixed budget of probability mass, so raising one item's
    probability lowers the others': the model must rank.
    """
    if x.is_sparse:
        # log π_ui = f_ui − log Σ_j exp f_uj, needed only where x_ui ≠ 0: no users × items
        # table of log-probabilities is written (nor read back in the backward pass).
        x = x.coalesce()
        rows, cols = x.indices()
        log_norm = torch.logsumexp(logits, dim=-1)
        per_click = (logits[rows, cols] - log_norm[rows]) * x.values()
        return torch.zeros(logits.shape[0], dtype=logits.dtype,
                           device=logits.device).index_add_(0, rows, per_click)
    return (F.log_softmax(logits, dim=-1) * x).sum(dim=-1)


def gaussian(logits: torch.Tensor, x: torch.Tensor, confidence: float = 1.0) -> torch.Tensor:
    """Eq. (3): log p(x_u) = −Σ_i c_ui / 2 · (x_ui − f_ui)², up to a constant.

    ``c_ui = confidence`` for clicks and 1 otherwise (the WMF-style weighting).
    """
    x = _dense(x)
    weight = 1.0 + (confidence - 1.0) * x
    return -(weight * (x - logits) ** 2).sum(dim=-1) / 2


def logistic(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Eq. (4): log p(x_u) = Σ_i x_ui log σ(f_ui) + (1 − x_ui) log(1 − σ(f_ui))."""
    x = _dense(x)
    return (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(dim=-1)


LIKELIHOODS = {"multinomial": multinomial, "gaussian": gaussian, "logistic": logistic}


def get_likelihood(name: str):
    if name not in LIKELIHOODS:
        raise ValueError(f"Unknown likelihood {name!r}; choose one of {sorted(LIKELIHOODS)}.")
    return LIKELIHOODS[name]
