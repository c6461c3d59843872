"""Notebook 2's WMF computations: one user folded in by hand, and validation NDCG@100
against the number of factors k."""
from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from ..data import Split
from ..metrics import evaluate
from ..models import WMF

__all__ = ["fold_in_by_hand", "validation_ndcg", "wmf_rank_sweep"]


def fold_in_by_hand(item_factors: np.ndarray, clicked, alpha: float, l2: float) -> np.ndarray:
    """A new user's WMF factors by one k × k least-squares solve, the item vectors V fixed:

        u = (VᵀV + α Σ_{i ∈ I_u} v_i v_iᵀ + λ I)⁻¹ (1 + α) Σ_{i ∈ I_u} v_i,

    the user half-step of alternating least squares (Hu, Koren & Volinsky 2008) with
    confidences c_ui = 1 + α x_ui, written with NumPy to check ``WMF.fold_in``.

    Args:
        item_factors: V, items × k.
        clicked: the columns I_u the user clicked.
        alpha: α, the extra confidence of a click; l2: λ, the ridge penalty.
    """
    V = np.asarray(item_factors, dtype=np.float64)
    V_clicked = V[np.asarray(clicked)]
    system = V.T @ V + alpha * V_clicked.T @ V_clicked + l2 * np.eye(V.shape[1])
    return np.linalg.solve(system, (1 + alpha) * V_clicked.sum(axis=0))


def validation_ndcg(model, split: Split) -> float:
    """Mean NDCG@100 of the validation users, each folded in from their fold-in clicks."""
    return float(evaluate(model.score, split.valid_fold_in, split.valid_target,
                          ks_recall=())["ndcg@100"].mean())


def wmf_rank_sweep(split: Split, ranks, l2: float, alpha: float, iterations: int, seed: int,
                   device=None, progress: bool = True) -> dict:
    """``{k: validation NDCG@100}`` of WMF fitted on the training users with k factors,
    one fit per rank in ``ranks``, every other setting the same."""
    return {k: validation_ndcg(WMF(n_factors=k, l2=l2, alpha=alpha, iterations=iterations, seed=seed,
                                   device=device).fit(split.train), split)
            for k in tqdm(ranks, desc="WMF, one fit per rank", disable=not progress)}
