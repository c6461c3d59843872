"""Top-N ranking metrics under the strong-generalisation protocol (paper §4.2).

For a user with held-out target set ``I_u`` and a ranking ω of the items (fold-in items
removed), with ``ω(r)`` the item at rank ``r``:

    Recall@R = Σ_{r≤R} 1[ω(r) ∈ I_u] / min(R, |I_u|)
    DCG@R    = Σ_{r≤R} 1[ω(r) ∈ I_u] / log2(r + 1)
    NDCG@R   = DCG@R / IDCG@R,  IDCG@R = Σ_{r≤min(R,|I_u|)} 1 / log2(r + 1)

Scores are plain arrays; these functions know nothing of models.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["exclude_fold_in", "top_k", "ndcg_at_k", "recall_at_k", "evaluate"]


def _check_k(k, n_items: int) -> int:
    if isinstance(k, bool) or int(k) != k or k <= 0:
        raise ValueError(f"K must be a positive whole number, got {k!r}.")
    if k > n_items:
        raise ValueError(f"K={k} is larger than the number of items ({n_items}); "
                         f"choose K ≤ {n_items}.")
    return int(k)


def _dense_target(target, shape) -> np.ndarray:
    """The held-out items as a users × items boolean table (written directly from a
    sparse target, never through a float copy of the whole table)."""
    if not sp.issparse(target):
        target = np.asarray(target)
    if target.shape != shape:
        raise ValueError(f"scores have shape {shape} but the target has shape {target.shape}; "
                         "they must describe the same users and items.")
    if sp.issparse(target):
        coo = target.tocoo()
        relevant = np.zeros(shape, dtype=bool)
        positive = coo.data > 0
        relevant[coo.row[positive], coo.col[positive]] = True
    else:
        relevant = target > 0
    counts = relevant.sum(axis=1)
    if (counts == 0).any():
        raise ValueError(f"{int((counts == 0).sum())} user(s) have no held-out items; "
                         "drop them before evaluating (paper_split does).")
    return relevant


def exclude_fold_in(scores: np.ndarray, fold_in) -> np.ndarray:
    """Set the fold-in items of each user to −∞ so they cannot be recommended again."""
    scores = np.array(scores, dtype=np.float32, copy=True)
    if sp.issparse(fold_in):
        coo = fold_in.tocoo()
        scores[coo.row, coo.col] = -np.inf
    else:
        scores[np.asarray(fold_in) > 0] = -np.inf
    return scores


def top_k(scores: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Indices of the ``k`` highest scores of each row, best first.

    Ties are broken at random: items with equal scores are ordered by a random
    permutation of the items drawn from ``seed`` (one permutation for all rows, so the
    result does not depend on how users are batched), never by item index. Rows without
    ties in their top ``k + 1`` take ``torch.topk`` alone: several times faster than a
    NumPy partition and sort on a wide users × items table.
    """
    scores = np.ascontiguousarray(scores)
    n_items = scores.shape[1]
    k = _check_k(k, n_items)
    table = torch.from_numpy(scores)
    values, indices = torch.topk(table, min(k + 1, n_items), dim=1, sorted=True)
    tied = np.flatnonzero((values[:, 1:] == values[:, :-1]).any(dim=1).numpy())
    best = indices[:, :k].numpy().copy()
    if tied.size:
        order = np.random.default_rng(seed).permutation(n_items)
        permuted = table[torch.from_numpy(tied)][:, torch.from_numpy(order)]
        ranked = torch.sort(permuted, dim=1, descending=True, stable=True).indices[:, :k]
        best[tied] = order[ranked.numpy()]
    return best


def _check_scores(scores) -> np.ndarray:
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be a users × items matrix, got shape {scores.shape}.")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN; the model that produced them has diverged.")
    if np.isposinf(scores).any():
        raise ValueError("scores contain +inf, so the ranking is undefined; the model that "
                         "produced them has overflowed (−inf is allowed: it marks excluded "
                         "items).")
    return scores


def ndcg_at_k(scores: np.ndarray, target, k: int = 100, seed: int = 0) -> np.ndarray:
    """NDCG@k of each user (binary relevance, discount 1 / log2(rank + 1)).

    Equal scores are ranked in a random order drawn from ``seed`` (:func:`top_k`), so a
    model that gives many items the same score is neither rewarded nor punished for the
    items' indices: with all scores equal, NDCG@k is that of a random ranking.
    """
    scores = _check_scores(scores)
    relevant = _dense_target(target, scores.shape)
    idx = top_k(scores, k, seed)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (np.take_along_axis(relevant, idx, axis=1) * discount).sum(axis=1)
    n_relevant = np.minimum(relevant.sum(axis=1), k)
    idcg = np.cumsum(discount)[n_relevant - 1]
    return dcg / idcg


def recall_at_k(scores: np.ndarray, target, k: int = 20, seed: int = 0) -> np.ndarray:
    """Recall@k of each user, normalised by min(k, |target|) as in the paper; equal scores
    are ranked in a random order drawn from ``seed`` (:func:`top_k`)."""
    scores = _check_scores(scores)
    relevant = _dense_target(target, scores.shape)
    idx = top_k(scores, k, seed)
    hits = np.take_along_axis(relevant, idx, axis=1).sum(axis=1)
    return hits / np.minimum(k, relevant.sum(axis=1))


def evaluate(score_fn: Callable[..., np.ndarray], fold_in: sp.csr_matrix,
             target: sp.csr_matrix, ks_recall=(20, 50), ks_ndcg=(100,),
             batch_size: int = 1000, users: np.ndarray | None = None) -> dict:
    """Score held-out users in batches and return per-user metric arrays.

    Args:
        score_fn: maps a CSR batch of fold-in rows to a dense scores array.
        fold_in, target: the held-out users' input and what they must predict.
        users: the users' ids, for a scorer that needs to know who they are (the
            synthetic oracle); then ``score_fn(batch, users_of_batch)`` is called.

    A K larger than the catalogue is capped to it (the ranking then holds every item;
    the metric keeps its name, e.g. ``ndcg@100`` on 78 items is NDCG over all 78).

    Returns:
        ``{"recall@20": array, "recall@50": array, "ndcg@100": array}`` (one value a user).
    """
    if fold_in.shape != target.shape:
        raise ValueError(f"fold-in {fold_in.shape} and target {target.shape} differ in shape.")
    n_items = fold_in.shape[1]
    results = {f"recall@{k}": [] for k in ks_recall}
    results.update({f"ndcg@{k}": [] for k in ks_ndcg})
    for start in range(0, fold_in.shape[0], batch_size):
        rows = slice(start, start + batch_size)
        raw = score_fn(fold_in[rows]) if users is None else score_fn(fold_in[rows], users[rows])
        scores = exclude_fold_in(raw, fold_in[rows])
        for k in ks_recall:
            results[f"recall@{k}"].append(recall_at_k(scores, target[rows], min(k, n_items)))
        for k in ks_ndcg:
            results[f"ndcg@{k}"].append(ndcg_at_k(scores, target[rows], min(k, n_items)))
    return {name: np.concatenate(values) for name, values in results.items()}
