"""Notebooks 2 and 3: one held-out user of median activity, and the new items a model
recommends them."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..metrics import top_k

__all__ = ["median_activity_user", "top_new_items"]


def median_activity_user(fold_in: sp.csr_matrix) -> int:
    """The row of the user whose number of fold-in clicks is the median (the middle one
    after a stable sort by clicks, so ties go to the earlier row)."""
    counts = np.diff(fold_in.indptr)
    return int(np.argsort(counts, kind="stable")[len(counts) // 2])


def top_new_items(scores, seen, n: int) -> np.ndarray:
    """The ``n`` best-scored items of one user's 1-D ``scores``, best first, leaving out
    the items in ``seen`` (the clicks the model was shown). ``scores`` is not changed."""
    scores = np.array(scores, copy=True)
    if scores.ndim != 1:
        raise ValueError(f"give one user's scores as a 1-D array, got shape {scores.shape}.")
    scores[list(seen)] = -np.inf
    return top_k(scores[None, :], n)[0]
