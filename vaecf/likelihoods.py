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


class _SparseMultinomial(torch.autograd.Function):
    """Σ_i x_ui log softmax(f_u)_i for sparse clicks x, with the gradient written out.

    Forward: log π = log_softmax(f) in one pass, read back only where x_ui ≠ 0.
    Backward: ∂/∂f_u = x_u − N_u π_u with N_u = Σ_i x_ui (the paper's multinomial
    gradient): one pass over π and a scatter of the clicks, with no users × items table
    of zeros built to carry the gradient of the gather.
    """

    @staticmethod
    def forward(ctx, logits, rows, items, values):
        log_probs = torch.log_softmax(logits, dim=-1)
        ctx.save_for_backward(log_probs, rows, items, values)
        per_click = log_probs[rows, items] * values
        return log_probs.new_zeros(logits.shape[0]).index_add_(0, rows, per_click)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        log_probs, rows, items, values = ctx.saved_tensors
        clicks_per_user = log_probs.new_zeros(log_probs.shape[0]).index_add_(0, rows, values)
        grad_logits = torch.exp(log_probs).mul_((-grad * clicks_per_user).unsqueeze(1))
        grad_logits.index_put_((rows, items), grad[rows] * values, accumulate=True)
        return grad_logits, None, None, None


def multinomial(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Eq. (2): log p(x_u) = Σ_i x_ui log π_i(z_u), π = softmax(f).

    The items share a fixed budget of probability mass, so raising one item's
    probability lowers the others': the model must rank.
    """
    if x.is_sparse:
        x = x.coalesce()
        rows, items = x.indices()
        return _SparseMultinomial.apply(logits, rows, items, x.values().to(logits.dtype))
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
