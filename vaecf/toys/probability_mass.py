"""Notebook 3: where a likelihood puts its mass over the items, and what raising one item does.

The three likelihoods of the paper (eqs. 2–4) read the same decoder output f_u but turn
it into per-item predictions differently:

* multinomial (eq. 2): π_u = softmax(f_u), one distribution over all items — a fixed
  budget of mass: raising one item's score lowers every other item's probability;
* logistic (eq. 4): σ(f_ui), one independent click probability per item;
* Gaussian (eq. 3): f_ui itself is the predicted click value.

To draw them side by side, :func:`item_mass` rescales each to a share per item that sums
to one (negative Gaussian predictions count as zero).
"""
from __future__ import annotations

import torch

from ..likelihoods import get_likelihood

__all__ = ["item_predictions", "item_mass", "total_mass", "raise_one_item"]


def item_predictions(logits: torch.Tensor, likelihood: str) -> torch.Tensor:
    """Each likelihood's own per-item prediction: π (multinomial), σ(f) (logistic), f (Gaussian)."""
    get_likelihood(likelihood)  # a clear error for an unknown name
    logits = torch.as_tensor(logits, dtype=torch.float64)
    if likelihood == "multinomial":
        return torch.softmax(logits, dim=-1)
    if likelihood == "logistic":
        return torch.sigmoid(logits)
    return logits


def item_mass(logits: torch.Tensor, likelihood: str) -> torch.Tensor:
    """Predictions rescaled to shares that sum to one over the items (per user)."""
    predictions = item_predictions(logits, likelihood).clamp_min(0)
    total = predictions.sum(dim=-1, keepdim=True)
    if (total == 0).any():
        raise ValueError("every prediction of a user is ≤ 0, so there is no mass to share; "
                         "the Gaussian decoder predicts no clicks for this user.")
    return predictions / total


def total_mass(logits: torch.Tensor, likelihood: str) -> torch.Tensor:
    """Each user's predictions summed over the items, before any rescaling: exactly one
    for the multinomial (its fixed budget), the expected number of clicks for the
    logistic, an unbounded sum for the Gaussian."""
    return item_predictions(logits, likelihood).sum(dim=-1)


def raise_one_item(logits: torch.Tensor, item: int, delta: float, likelihood: str) -> dict:
    """Add ``delta`` to one item's score and report every item's prediction before and after.

    Returns ``{"before", "after", "change_of_others", "total_before", "total_after"}``
    (1-D tensors and floats) for a single user's 1-D ``logits``.
    """
    logits = torch.as_tensor(logits, dtype=torch.float64)
    if logits.ndim != 1:
        raise ValueError(f"give one user's scores as a 1-D tensor, got shape {tuple(logits.shape)}.")
    if not 0 <= item < logits.numel():
        raise ValueError(f"item must be an index in [0, {logits.numel()}), got {item}.")
    raised = logits.clone()
    raised[item] += delta
    before = item_predictions(logits, likelihood)
    after = item_predictions(raised, likelihood)
    others = torch.ones_like(before, dtype=torch.bool)
    others[item] = False
    return {"before": before, "after": after,
            "change_of_others": float((after - before)[others].sum()),
            "total_before": float(before.sum()), "total_after": float(after.sum())}
