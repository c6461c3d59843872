"""Notebook 7: who benefits (the paper's analysis by user activity, §4): NDCG@100 by user
activity. (How to pick β along an annealing run is in :mod:`vaecf.experiments.annealing`.)

Returns numbers; :mod:`vaecf.plots.results` or a notebook draws them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .comparison import PairedDifference, paired_difference
from ..metrics import evaluate

__all__ = ["ActivityBreakdown", "activity_groups", "ndcg_by_activity", "activity_breakdown",
           "paired_by_group", "GroupGains", "group_gains"]


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
        """``"4–11 clicks"``, ...: the groups' ranges never overlap (ties share a group)."""
        return [f"{lo} clicks" if lo == hi else f"{lo}–{hi} clicks"
                for lo, hi in zip(self.low, self.high)]

    @classmethod
    def from_numbers(cls, entry: dict, k: int = 100) -> "ActivityBreakdown":
        """One model's breakdown as ``python -m vaecf figures`` saved it (an entry of
        ``figures.json``'s ``activity``: per test user ``ndcg``, ``group`` and
        ``fold_in_clicks``), with the groups it was saved with."""
        try:
            ndcg, group, clicks = entry["ndcg"], entry["group"], entry["fold_in_clicks"]
        except KeyError as missing:
            raise ValueError(f"the entry has no {missing} list; pass one model's entry of the "
                             "'activity' numbers in a figures.json written by python -m vaecf "
                             "figures.") from None
        return _by_group(np.asarray(ndcg, dtype=float), np.asarray(clicks), np.asarray(group), k)


def ndcg_by_activity(score_fn, fold_in: sp.csr_matrix, target: sp.csr_matrix,
                     n_groups: int = 5, k: int = 100, batch_size: int = 1000) -> ActivityBreakdown:
    """NDCG@k per activity quantile: users sorted by fold-in click count, cut into
    ``n_groups`` groups of about equal size (quintiles by default) — see
    :func:`activity_groups` for how ties are kept together.

    Args:
        score_fn: any scorer, ``score_fn(fold_in_batch) -> scores`` (``model.score``).
        fold_in, target: held-out users' input and what they must predict.
    """
    _check_groups(n_groups, fold_in.shape[0])
    ndcg = evaluate(score_fn, fold_in, target, ks_recall=(), ks_ndcg=(k,),
                    batch_size=batch_size)[f"ndcg@{k}"]
    return activity_breakdown(ndcg, fold_in, n_groups, k)


def _check_groups(n_groups, n_users: int) -> None:
    if isinstance(n_groups, bool) or int(n_groups) != n_groups or n_groups < 1:
        raise ValueError(f"n_groups must be a positive whole number, got {n_groups!r}.")
    if n_groups > n_users:
        raise ValueError(f"cannot cut {n_users} users into {n_groups} groups; use fewer groups.")


def activity_groups(clicks: np.ndarray, n_groups: int = 5) -> np.ndarray:
    """Each user's activity group (0 = least active) from their click counts.

    The cuts lie at the ``1/n_groups, 2/n_groups, …`` quantiles of the counts, and users with
    the same count always share a group, so the groups' click ranges never overlap and their
    sizes are only about equal. Where ties leave a group empty (many users with one count)
    it is dropped, so there may be fewer than ``n_groups`` groups.
    """
    clicks = np.asarray(clicks)
    _check_groups(n_groups, clicks.size)
    ordered = np.sort(clicks)
    cuts = [int(round(j * clicks.size / n_groups)) for j in range(1, int(n_groups))]
    starts = np.unique(ordered[cuts])  # the first count of each group but the first
    group = np.searchsorted(starts, clicks, side="right")
    return np.unique(group, return_inverse=True)[1].reshape(clicks.shape)  # drop empty groups


def activity_breakdown(ndcg: np.ndarray, fold_in, n_groups: int = 5,
                       k: int = 100) -> ActivityBreakdown:
    """:func:`ndcg_by_activity` from per-user NDCG@k values already computed (in the
    order of ``fold_in``'s rows).

    Args:
        fold_in: the held-out users' fold-in matrix, or their fold-in click counts.
    """
    ndcg = np.asarray(ndcg, dtype=float)
    clicks = np.diff(fold_in.indptr) if sp.issparse(fold_in) else np.asarray(fold_in)
    if ndcg.shape != clicks.shape:
        raise ValueError(f"need one NDCG value per user of fold_in ({clicks.size}), got "
                         f"{ndcg.shape}.")
    return _by_group(ndcg, clicks, activity_groups(clicks, n_groups), k)


def _by_group(ndcg: np.ndarray, clicks: np.ndarray, group: np.ndarray, k: int) -> ActivityBreakdown:
    """Each group's click range, mean NDCG@k and its standard error, from each user's group."""
    if not ndcg.shape == clicks.shape == group.shape:
        raise ValueError(f"need one NDCG value, click count and group per user; got {ndcg.size}, "
                         f"{clicks.size} and {group.size}.")
    stats = []
    for index in range(int(group.max()) + 1):
        values, counts = ndcg[group == index], clicks[group == index]
        stderr = values.std(ddof=1) / np.sqrt(values.size) if values.size > 1 else 0.0
        stats.append((counts.min(), counts.max(), values.mean(), stderr, values.size))
    low, high, mean, stderr, size = (np.array(column) for column in zip(*stats))
    return ActivityBreakdown(low, high, mean, stderr, size, group, ndcg, int(k))


def paired_by_group(a: ActivityBreakdown, b: ActivityBreakdown, a_name: str = "A",
                    b_name: str = "B") -> list[PairedDifference]:
    """Model ``a`` against model ``b`` within each activity group (the same users)."""
    if not np.array_equal(a.group, b.group):
        raise ValueError("the two breakdowns group the users differently; compute both on the "
                         "same fold-in matrix with the same n_groups.")
    return [paired_difference(a.ndcg[a.group == g], b.ndcg[b.group == g], a_name, b_name)
            for g in range(len(a.size))]


@dataclass
class GroupGains:
    """Model ``a``'s gain over model ``b`` in each activity group (least active first):
    the paired difference on the group's users, and the gain relative to ``b``'s mean."""

    labels: list
    sizes: np.ndarray
    differences: list

    @property
    def relative(self) -> np.ndarray:
        """(mean of a − mean of b) / mean of b, per group."""
        return np.array([(d.mean_a - d.mean_b) / d.mean_b for d in self.differences])

    @property
    def largest_for_lightest(self) -> bool:
        """Whether the relative gain is largest for the least active users (the paper's finding)."""
        return int(np.argmax(self.relative)) == 0

    @property
    def falls_with_activity(self) -> bool:
        """Whether the relative gain falls from each group to the next more active one."""
        return bool(np.all(np.diff(self.relative) < 0))


def group_gains(a: ActivityBreakdown, b: ActivityBreakdown, a_name: str = "A",
                b_name: str = "B") -> GroupGains:
    """Model ``a`` against model ``b`` in each activity group (:func:`paired_by_group`), with
    each group's relative gain: the paper's Figure 3 as numbers."""
    return GroupGains(a.labels(), a.size, paired_by_group(a, b, a_name, b_name))
