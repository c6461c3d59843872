"""Analyses from the paper's §5: who benefits (NDCG@100 by user activity) and how to pick β
(validation NDCG@100 along a KL annealing run with no cap, paper Fig. 1 / §2.2.2).

Returns numbers and histories; :mod:`vaecf.plots` or a notebook draws them.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp
import torch

from .data.protocol import Split
from .metrics import evaluate
from .models import MultVAE
from .train import TrainConfig, fit

__all__ = ["ActivityBreakdown", "ndcg_by_activity", "AnnealingCurve", "annealing_curve",
           "curve_from_history"]


@dataclass
class ActivityBreakdown:
    """NDCG@k of users grouped by how many fold-in clicks they have (fewest first)."""

    low: np.ndarray  # fewest fold-in clicks in each group
    high: np.ndarray  # most fold-in clicks in each group
    mean: np.ndarray  # mean NDCG@k of each group
    stderr: np.ndarray  # its standard error
    size: np.ndarray  # users in each group
    group: np.ndarray  # each user's group (0 = least active)
    ndcg: np.ndarray  # each user's NDCG@k
    k: int = 100

    def labels(self) -> list[str]:
        return [f"{lo}–{hi} clicks" for lo, hi in zip(self.low, self.high)]


def ndcg_by_activity(score_fn, fold_in: sp.csr_matrix, target: sp.csr_matrix,
                     n_groups: int = 5, k: int = 100, batch_size: int = 1000) -> ActivityBreakdown:
    """NDCG@k per activity quantile: users sorted by fold-in click count, cut into
    ``n_groups`` equal-sized groups (quintiles by default; ties are broken by user order,
    so every group has the same number of users).

    Args:
        score_fn: any scorer, ``score_fn(fold_in_batch) -> scores`` (``model.score``).
        fold_in, target: held-out users' input and what they must predict.
    """
    if isinstance(n_groups, bool) or int(n_groups) != n_groups or n_groups < 1:
        raise ValueError(f"n_groups must be a positive whole number, got {n_groups!r}.")
    if n_groups > fold_in.shape[0]:
        raise ValueError(f"cannot cut {fold_in.shape[0]} users into {n_groups} groups; "
                         "use fewer groups.")
    ndcg = evaluate(score_fn, fold_in, target, ks_recall=(), ks_ndcg=(k,),
                    batch_size=batch_size)[f"ndcg@{k}"]
    clicks = np.diff(sp.csr_matrix(fold_in).indptr)
    order = np.argsort(clicks, kind="stable")
    group = np.empty(clicks.size, dtype=np.int64)
    for index, members in enumerate(np.array_split(order, int(n_groups))):
        group[members] = index
    stats = []
    for index in range(int(n_groups)):
        values, counts = ndcg[group == index], clicks[group == index]
        stderr = values.std(ddof=1) / np.sqrt(values.size) if values.size > 1 else 0.0
        stats.append((counts.min(), counts.max(), values.mean(), stderr, values.size))
    low, high, mean, stderr, size = (np.array(column) for column in zip(*stats))
    return ActivityBreakdown(low, high, mean, stderr, size, group, ndcg, int(k))


@dataclass
class AnnealingCurve:
    """Validation NDCG@100 against β along one annealing run, and the β where it peaked."""

    beta: np.ndarray
    ndcg: np.ndarray
    best_beta: float
    best_ndcg: float
    history: list = field(default_factory=list)
    model: MultVAE | None = None


def curve_from_history(history: list, metric: str = "val_ndcg@100") -> AnnealingCurve:
    """The (β, validation NDCG) pairs recorded by :func:`vaecf.train.fit`, best β marked."""
    if not history:
        raise ValueError("the history is empty: train for at least one epoch.")
    beta = np.array([h["beta"] for h in history], dtype=np.float64)
    ndcg = np.array([h[metric] for h in history], dtype=np.float64)
    best = int(np.argmax(ndcg))
    return AnnealingCurve(beta, ndcg, float(beta[best]), float(ndcg[best]), list(history))


def annealing_curve(split: Split, epochs: int = 100, beta_max: float = 1.0,
                    config: TrainConfig | None = None, model: MultVAE | None = None,
                    seed: int = 0, device=None, progress: bool = True) -> AnnealingCurve:
    """Train a Mult-VAE with β annealed linearly from 0 to ``beta_max`` over the whole run
    (no cap in between) and record validation NDCG@100 against β each epoch.

    The paper (§2.2.2) picks the β at which validation NDCG@100 peaks and then trains
    again with β capped there. ``beta_max`` defaults to 1, the plain ELBO.

    Args:
        split: the protocol's matrices.
        config: other training settings (its epochs, β cap and schedule are replaced).
        model: the Mult-VAE to train (default: the paper's architecture, seeded by ``seed``).
    """
    if not beta_max > 0:
        raise ValueError(f"beta_max must be positive, got {beta_max}.")
    config = replace(config or TrainConfig(seed=seed), epochs=epochs, beta_cap=float(beta_max),
                     anneal_steps=None, anneal_fraction=1.0, patience=None)
    if model is None:
        torch.manual_seed(seed)
        model = MultVAE(split.n_items)
        if device is not None:
            model = model.to(device)
    run = fit(model, split, config, progress=progress)
    curve = curve_from_history(run.history)
    curve.model = model
    return curve
