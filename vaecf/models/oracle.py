"""The oracle for synthetic data: it ranks items by the true click probabilities."""
from __future__ import annotations

import numpy as np

from ..data.synthetic import SyntheticTruth

__all__ = ["Oracle"]


class Oracle:
    """Knows the generator's truth; no model can beat it in expectation.

    ``score(fold_in, users)`` takes the raw (generator) ids of the users in the batch;
    ``item_ids`` maps the split's columns back to generator item ids.
    """

    def __init__(self, truth: SyntheticTruth, item_ids: np.ndarray):
        self.truth, self.item_ids = truth, np.asarray(item_ids)

    def score(self, fold_in, users: np.ndarray) -> np.ndarray:
        return self.truth.logits(np.asarray(users), self.item_ids)
