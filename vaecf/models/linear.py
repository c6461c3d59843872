"""Linear baselines: weighted matrix factorisation (WMF) and EASE.

Both are scored like every other recommender here: ``score(fold_in_csr) -> scores``,
under strong generalisation (the held-out users were never seen in training).

* **WMF** (Hu, Koren & Volinsky 2008): X ≈ U Vᵀ with a confidence weight on every cell,
  fitted by alternating least squares. A held-out user is *folded in* by the same
  closed-form least-squares solve that updates a training user, with V fixed.
* **EASE** (Steck 2019): an item-item weight matrix B with a zero diagonal, in closed form;
  a user's scores are x_u B.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

from .inputs import check_clicks, csr_to_torch

__all__ = ["WMF", "EASE"]


def _check_items(fold_in, n_items: int) -> sp.csr_matrix:
    fold_in = check_clicks(fold_in, "the fold-in batch")
    if fold_in.shape[1] != n_items:
        raise ValueError(f"the batch has {fold_in.shape[1]} items but the model was fitted on "
                         f"{n_items}; use the same item set as in training.")
    return fold_in


def _positive(name: str, value, whole: bool = False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}.")
    if whole and int(value) != value:
        raise ValueError(f"{name} must be a whole number, got {value!r}.")
    if not value > 0 or math.isinf(value):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}.")


class WMF:
    """Weighted matrix factorisation by alternating least squares (Hu et al. 2008).

    Minimises  Σ_ui c_ui (p_ui − u_uᵀ v_i)² + λ (Σ_u ‖u_u‖² + Σ_i ‖v_i‖²)  (their eq. 3)
    with preference p_ui = 1 for a click (else 0) and confidence c_ui = 1 + α x_ui.

    Each ALS half-step solves, for every user at once (their eq. 4),

        (VᵀV + Vᵀ(C_u − I)V + λI) u_u = Vᵀ C_u p_u = (1 + α) Σ_{i ∈ I_u} v_i,

    where VᵀV is shared and the correction α Σ_{i∈I_u} v_i v_iᵀ involves only the user's
    clicked items. Users are batched by click count, their clicked factors stacked into a
    zero-padded (users × clicks × k) tensor, and each batch solved at once, so no Python
    loop runs over users or items:

    * a user with at least k clicks: the k×k system by a batched Cholesky factorisation;
    * a user with c < k clicks: the same solution by the Woodbury identity, with
      A = VᵀV + λI shared and U the c × k factors of the user's items,

          (A + α UᵀU)⁻¹ b = W ᵀ ((1 + α) 1 − α (I + α P)⁻¹ (1 + α) P 1),

      where W = U A⁻¹ (rows of V A⁻¹, computed once) and P = W Uᵀ is c × c: a c×c
      factorisation instead of a k×k one, which is most of the work when users have
      fewer clicks than the model has factors.

    Args:
        n_factors: k, the latent dimension.
        l2: λ, the ridge penalty (> 0).
        alpha: α, the extra confidence of a click (c = 1 + α for clicks, 1 otherwise; ≥ 0).
        iterations: ALS sweeps (each updates all users, then all items).
        seed: the initial factors' random seed.
        device: where the solves run (``"cpu"`` or ``"cuda"``).
        batch_elements: memory budget of one batched solve (numbers in its padded tensors);
            by default 1,000,000 on the CPU, where tensors that stay in the caches and the
            allocator's free lists are faster than large fresh ones, and 20,000,000 on a GPU.
    """

    def __init__(self, n_factors: int = 100, l2: float = 1.0, alpha: float = 10.0,
                 iterations: int = 15, seed: int = 0, device=None, batch_elements: int | None = None):
        _positive("n_factors (the latent size)", n_factors, whole=True)
        _positive("l2 (the penalty λ)", l2)
        _positive("iterations", iterations, whole=True)
        if batch_elements is not None:
            _positive("batch_elements", batch_elements, whole=True)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
            raise TypeError(f"alpha (the click confidence) must be a number, got {alpha!r}.")
        if not 0 <= alpha < math.inf:
            raise ValueError(f"alpha (the click confidence, c = 1 + α) must be a finite number "
                             f"≥ 0, got {alpha!r}; α = 0 weighs clicks and non-clicks equally.")
        self.n_factors, self.l2, self.alpha = int(n_factors), float(l2), float(alpha)
        self.iterations, self.seed = int(iterations), int(seed)
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        if batch_elements is None:
            batch_elements = 20_000_000 if self.device.type == "cuda" else 1_000_000
        self.batch_elements = int(batch_elements)
        self.item_factors: torch.Tensor | None = None

    def config(self) -> dict:
        return {"model": "WMF", "n_factors": self.n_factors, "l2": self.l2, "alpha": self.alpha,
                "iterations": self.iterations, "seed": self.seed}

    def solve(self, clicks: sp.csr_matrix, fixed: torch.Tensor) -> torch.Tensor:
        """The closed-form ALS update of every row of ``clicks`` with the other side ``fixed``.

        ``clicks`` is rows × columns (users × items to update users, items × users to
        update items); ``fixed`` holds the column factors (columns × k). Returns rows × k.
        """
        clicks = check_clicks(clicks, "clicks")
        k = fixed.shape[1]
        gram = fixed.T @ fixed + self.l2 * torch.eye(k, dtype=fixed.dtype, device=fixed.device)
        counts = np.diff(clicks.indptr)
        # Σ_{i∈I_u} v_i for every row at once: the right-hand side, up to (1 + α).
        rhs = (1.0 + self.alpha) * torch.sparse.mm(
            csr_to_torch(clicks, fixed.device).to(fixed.dtype), fixed)
        result = torch.empty(clicks.shape[0], k, dtype=fixed.dtype, device=fixed.device)
        order = np.argsort(counts, kind="stable")  # similar click counts share a batch
        sorted_counts = np.maximum(counts[order], 1)
        # V A⁻¹, A = VᵀV + λI: the rows W of the Woodbury solve (A is symmetric), needed
        # only when the batch of the fewest clicks has fewer than k
        inverse_rows = (torch.cholesky_solve(fixed.T, torch.linalg.cholesky(gram)).T
                        if sorted_counts.size and sorted_counts[0] < k else None)
        # a zero row after the last one: the padded slots of a batch point at it, so they
        # add nothing to UᵀU, W or P without a mask
        zero_row = torch.zeros(1, k, dtype=fixed.dtype, device=fixed.device)
        padded_fixed = torch.cat([fixed, zero_row])
        if inverse_rows is not None:
            inverse_rows = torch.cat([inverse_rows, zero_row])
        start = 0
        while start < order.size:
            # the largest batch whose padded tensors (rows × (clicks + k) × k) fit the budget
            ends = np.arange(start + 1, order.size + 1)
            cost = (ends - start) * (sorted_counts[ends - 1] + k) * k
            end = int(ends[cost <= self.batch_elements].max(initial=start + 1))
            rows = order[start:end]
            longest = int(sorted_counts[end - 1])
            start = end
            sub = clicks[rows]
            width = np.diff(sub.indptr)
            slot = np.arange(sub.nnz) - np.repeat(sub.indptr[:-1], width)
            padded = np.full((rows.size, longest), fixed.shape[0], dtype=np.int64)
            padded[np.repeat(np.arange(rows.size), width), slot] = sub.indices
            padded_index = torch.from_numpy(padded).to(fixed.device)
            stacked = padded_fixed[padded_index]  # rows × clicks × k, zero rows in the padding
            index = torch.from_numpy(rows).to(fixed.device)
            if longest < k:
                result[index] = self._woodbury(stacked, inverse_rows[padded_index])
                continue
            systems = torch.baddbmm(gram.expand(rows.size, k, k), stacked.transpose(1, 2), stacked,
                                    alpha=self.alpha)
            factor = torch.linalg.cholesky(systems)
            result[index] = torch.cholesky_solve(rhs[index].unsqueeze(-1), factor).squeeze(-1)
        return result

    def _woodbury(self, stacked: torch.Tensor, inverse_rows: torch.Tensor) -> torch.Tensor:
        """Each row's solution of (A + α UᵀU) x = (1 + α) Uᵀ1 by the Woodbury identity (see
        the class docstring), from its zero-padded U (``stacked``, rows × c × k) and
        W = U A⁻¹ (``inverse_rows``); padded slots have zero rows in both, so they add nothing."""
        alpha = self.alpha
        p = inverse_rows @ stacked.transpose(1, 2)  # P = U A⁻¹ Uᵀ, rows × c × c
        s = (1.0 + alpha) * p.sum(dim=-1, keepdim=True)  # U A⁻¹ b = (1 + α) P 1
        eye = torch.eye(p.shape[-1], dtype=p.dtype, device=p.device)
        t = torch.cholesky_solve(s, torch.linalg.cholesky(eye + alpha * p))
        weights = (1.0 + alpha) - alpha * t  # (1 + α) 1 − α (I + α P)⁻¹ U A⁻¹ b
        return (inverse_rows.transpose(1, 2) @ weights).squeeze(-1)

    def fit(self, train: sp.csr_matrix, progress: bool = False) -> "WMF":
        """Alternate the user and item solves ``iterations`` times on training clicks."""
        train = check_clicks(train, "the training matrix")
        if train.shape[0] < 1 or train.shape[1] < 1:
            raise ValueError(f"the training matrix is empty (shape {train.shape}).")
        binary = train.copy()
        binary.data[:] = 1.0  # preference p = 1 for every click
        by_item = binary.T.tocsr()
        generator = torch.Generator().manual_seed(self.seed)
        scale = 0.01
        items = (scale * torch.randn(train.shape[1], self.n_factors, generator=generator,
                                     dtype=torch.float32)).to(self.device)
        self.loss_history = []
        clicked = csr_to_torch(binary, self.device).indices()  # 2 × clicks: rows, then columns
        for _ in tqdm(range(self.iterations), desc="WMF (ALS)", disable=not progress):
            users = self.solve(binary, items)
            items = self.solve(by_item, users)
            self.loss_history.append(self._objective(clicked, users, items))
        self.item_factors, self.user_factors = items, users
        return self

    def _objective(self, clicked: torch.Tensor, users: torch.Tensor, items: torch.Tensor) -> float:
        """Hu et al.'s eq. (3), computed without forming the users × items matrix.

        ``clicked`` holds the clicks' row and column indices (2 × clicks); their predictions
        are computed a budget's worth of clicks at a time.
        """
        rows, cols = clicked
        # Σ over all cells of (u·v)², then correct the clicked cells.
        total = ((users.T @ users) * (items.T @ items)).sum()
        chunk = max(1, self.batch_elements // users.shape[1])
        for start in range(0, rows.numel(), chunk):
            predicted = (users[rows[start:start + chunk]] * items[cols[start:start + chunk]]).sum(-1)
            total = total + ((1 + self.alpha) * (1 - predicted) ** 2 - predicted ** 2).sum()
        penalty = self.l2 * ((users ** 2).sum() + (items ** 2).sum())
        return float(total + penalty)

    def fold_in(self, fold_in: sp.csr_matrix) -> torch.Tensor:
        """User factors for unseen users: one least-squares solve each, items fixed."""
        if self.item_factors is None:
            raise RuntimeError("fit the model before folding in users: WMF(...).fit(train).")
        fold_in = _check_items(fold_in, self.item_factors.shape[0])
        binary = fold_in.copy()
        binary.data[:] = 1.0
        return self.solve(binary, self.item_factors)

    def score(self, fold_in: sp.csr_matrix) -> np.ndarray:
        """Scores u_u Vᵀ for a CSR batch of held-out users' fold-in clicks."""
        users = self.fold_in(fold_in)
        return (users @ self.item_factors.T).float().cpu().numpy()


class EASE:
    """Embarrassingly shallow autoencoder (Steck 2019), in closed form.

    Solves  min_B ‖X − XB‖²_F + λ‖B‖²_F  subject to diag(B) = 0, whose solution is

        P = (XᵀX + λI)⁻¹,   B_ij = −P_ij / P_jj  (i ≠ j),   B_jj = 0.

    Args:
        l2: λ (> 0); 500 suits ML-1M-sized data (Steck used a few hundred on ML-20M).
        device: where the item × item inverse is computed.
    """

    def __init__(self, l2: float = 500.0, device=None):
        _positive("l2 (the penalty λ)", l2)
        self.l2 = float(l2)
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.weights: torch.Tensor | None = None

    def config(self) -> dict:
        return {"model": "EASE", "l2": self.l2}

    def fit(self, train: sp.csr_matrix) -> "EASE":
        train = check_clicks(train, "the training matrix")
        if train.shape[0] < 1 or train.shape[1] < 1:
            raise ValueError(f"the training matrix is empty (shape {train.shape}).")
        gram = torch.from_numpy((train.T @ train).toarray().astype(np.float64)).to(self.device)
        gram += self.l2 * torch.eye(gram.shape[0], dtype=gram.dtype, device=self.device)
        precision = torch.linalg.inv(gram)
        weights = -precision / torch.diagonal(precision)  # column j divided by P_jj
        weights.fill_diagonal_(0.0)
        self.weights = weights.float()
        return self

    def score(self, fold_in: sp.csr_matrix) -> np.ndarray:
        """Scores x_u B for a CSR batch of fold-in clicks."""
        if self.weights is None:
            raise RuntimeError("fit the model before scoring: EASE(...).fit(train).")
        fold_in = _check_items(fold_in, self.weights.shape[0])
        x = csr_to_torch(fold_in, self.device)
        return torch.sparse.mm(x, self.weights).cpu().numpy()
