"""The popularity baseline: recommend what most training users clicked."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["Popularity"]


class Popularity:
    """Scores every item by its number of clicks among training users, for every user."""

    def fit(self, train: sp.csr_matrix) -> "Popularity":
        self.counts = np.asarray(train.sum(axis=0)).ravel().astype(np.float32)
        return self

    def score(self, fold_in: sp.csr_matrix) -> np.ndarray:
        if fold_in.shape[1] != self.counts.size:
            raise ValueError(f"the batch has {fold_in.shape[1]} items; the model knows "
                             f"{self.counts.size}.")
        return np.broadcast_to(self.counts, fold_in.shape).copy()
