"""Notebook 1: the shape of a click matrix, the statistics the synthetic generator is calibrated to.

Every number is computed after the paper's protocol (binarised, users with five clicks or
more, items clicked by training users), on all users of a :class:`~vaecf.data.Split`
together, so a synthetic table and a MovieLens release can be set side by side.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp

from .datasets import load_dataset
from .protocol import Split, paper_split

__all__ = ["ClickStatistics", "click_statistics", "gini", "head_share", "SHAPE_TOLERANCES",
           "shape_agreement", "calibrated_statistics"]


def gini(counts: np.ndarray) -> float:
    """The Gini coefficient of non-negative counts: 0 when all are equal, → 1 when one holds all.

    ``G = Σ_i (2i − n − 1) x_(i) / (n Σ x)`` with the counts sorted ascending and ``i = 1..n``.
    """
    x = np.sort(np.asarray(counts, dtype=np.float64))
    if x.size == 0 or x.sum() <= 0:
        raise ValueError("gini needs at least one positive count.")
    if x[0] < 0:
        raise ValueError("gini needs non-negative counts.")
    rank = np.arange(1, x.size + 1)
    return float(((2 * rank - x.size - 1) * x).sum() / (x.size * x.sum()))


def head_share(per_item: np.ndarray, fraction: float = 0.1) -> float:
    """The share of all clicks that the most clicked ``fraction`` of items receive (at least one item)."""
    per_item = np.asarray(per_item, dtype=np.float64)
    n_head = max(1, int(round(fraction * per_item.size)))
    return float(np.sort(per_item)[::-1][:n_head].sum() / per_item.sum())


@dataclass(frozen=True)
class ClickStatistics:
    """Size, sparsity and skew of one click matrix."""

    users: int
    items: int
    clicks: int
    density: float  # clicks / (users · items)
    item_gini: float  # Gini of the clicks each item receives
    head_share: float  # share of all clicks that the most clicked 10% of items receive
    median_clicks_per_user: float
    p90_clicks_per_user: float

    def as_dict(self) -> dict:
        return asdict(self)


def _all_users(split: Split) -> sp.csr_matrix:
    held = [split.valid_fold_in + split.valid_target, split.test_fold_in + split.test_target]
    return sp.vstack([split.train, *held], format="csr")


def click_statistics(split: Split) -> ClickStatistics:
    """The statistics of every user's clicks in ``split`` (training and held-out users)."""
    clicks = _all_users(split)
    per_item = np.asarray(clicks.sum(axis=0)).ravel()
    per_user = np.diff(clicks.indptr)
    users, items = clicks.shape
    return ClickStatistics(
        users=int(users), items=int(items), clicks=int(clicks.nnz),
        density=float(clicks.nnz / (users * items)), item_gini=gini(per_item),
        head_share=head_share(per_item),
        median_clicks_per_user=float(np.median(per_user)),
        p90_clicks_per_user=float(np.percentile(per_user, 90)))


SHAPE_TOLERANCES = {"item_gini": ("difference", 0.03), "head_share": ("difference", 0.04),
                    "density": ("ratio", 0.2), "median_clicks_per_user": ("ratio", 0.1),
                    "p90_clicks_per_user": ("ratio", 0.1)}
"""How near a statistic must lie to call two click matrices alike in shape: within an
absolute ``difference``, or a ``ratio`` within that fraction of 1."""


def shape_agreement(stats: ClickStatistics, reference) -> dict:
    """``{statistic: bool}``: whether each statistic of :data:`SHAPE_TOLERANCES` of ``stats``
    lies near ``reference``'s (a :class:`ClickStatistics`, or its ``as_dict()`` as
    ``python -m vaecf counts --statistics`` writes it)."""
    reference = reference.as_dict() if isinstance(reference, ClickStatistics) else reference
    missing = [name for name in SHAPE_TOLERANCES if name not in reference]
    if missing:
        raise ValueError(f"the reference statistics lack {', '.join(missing)}; pass the "
                         "'statistics' entry of a statistics.json.")
    agreement = {}
    for name, (kind, tolerance) in SHAPE_TOLERANCES.items():
        ours, theirs = getattr(stats, name), reference[name]
        off = abs(ours - theirs) if kind == "difference" else abs(ours / theirs - 1)
        agreement[name] = bool(off < tolerance)
    return agreement


def calibrated_statistics(size: str = "ml-1m", seed: int = 98765,
                          n_heldout: float = 0.1) -> ClickStatistics:
    """The statistics of the synthetic ``size`` calibrated to a real release (``"ml-1m"``),
    generated with ``seed`` and split by the paper's protocol holding out ``n_heldout`` of
    the users."""
    table, _ = load_dataset("synthetic", size=size, seed=seed)
    return click_statistics(paper_split(table, n_heldout=n_heldout, seed=seed))
