"""Getting a batch of users' clicks into a network: sparse tensors, normalisation, dropout."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["check_clicks", "csr_to_torch", "normalise_rows", "sparse_dropout", "RowShard",
           "SparseInputLinear"]


def check_clicks(matrix, what: str = "the click matrix") -> sp.csr_matrix:
    """``matrix`` as float32 CSR, refusing a dense array and NaN/inf with a clear error."""
    if not sp.issparse(matrix):
        raise TypeError(f"{what}: expected a SciPy sparse matrix of clicks, got "
                        f"{type(matrix).__name__}; wrap a dense array with scipy.sparse.csr_matrix(...).")
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    if not np.isfinite(matrix.data).all():
        raise ValueError(f"{what} holds {int((~np.isfinite(matrix.data)).sum())} NaN or infinite "
                         "value(s); clicks must be finite numbers (0/1 or counts).")
    return matrix


def _coalesced_coo(indices: torch.Tensor, values: torch.Tensor, shape) -> torch.Tensor:
    """A sparse COO tensor from indices already in coalesced order (ours always are),
    built without torch's invariant checks, which would only re-verify that order.

    The opt-out is explicit in the way torch asks for (its context manager): torch 2.11
    otherwise warns "Sparse invariant checks are implicitly disabled" on the first sparse
    tensor, even when ``check_invariants=False`` is passed.
    """
    with torch.sparse.check_sparse_tensor_invariants(enable=False):
        return torch.sparse_coo_tensor(indices, values, tuple(shape), is_coalesced=True,
                                       check_invariants=False)


def csr_to_torch(batch, device: torch.device | str = "cpu") -> torch.Tensor:
    """A SciPy CSR batch (users × items) as a coalesced sparse COO float32 tensor.

    A canonical CSR matrix (sorted column indices, no duplicates; what
    :func:`vaecf.data.paper_split` returns, and any row slice of it) is already in
    coalesced COO order, so the indices are laid out directly, without the sort that
    ``coalesce()`` would do.
    """
    batch = check_clicks(batch)
    if not batch.has_canonical_format:
        batch = batch.copy()
        batch.sum_duplicates()
    indices = np.empty((2, batch.nnz), dtype=np.int64)
    indices[0] = np.repeat(np.arange(batch.shape[0], dtype=np.int64), np.diff(batch.indptr))
    indices[1] = batch.indices
    values = torch.from_numpy(np.array(batch.data, dtype=np.float32))
    return _coalesced_coo(torch.from_numpy(indices), values, batch.shape).to(device)


def normalise_rows(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Divide each user's row by its L2 norm (an empty row stays zero)."""
    if not x.is_sparse:
        return F.normalize(x, dim=1, eps=eps)
    x = x.coalesce()
    rows = x.indices()[0]
    squares = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    squares.index_add_(0, rows, x.values() ** 2)
    values = x.values() / squares.sqrt().clamp_min(eps)[rows]
    return _coalesced_coo(x.indices(), values, x.shape)


def sparse_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Dropout on the clicks: dropping a zero changes nothing, so only stored values are touched."""
    if not training or p == 0:
        return x
    if not x.is_sparse:
        return F.dropout(x, p, training=True)
    x = x.coalesce()
    values = F.dropout(x.values(), p, training=True)
    return _coalesced_coo(x.indices(), values, x.shape)


@dataclass(frozen=True)
class RowShard:
    """Rows ``start:stop`` of a batch of ``total`` users: the part of a batch that one process
    of a data-parallel run computes (:mod:`vaecf.distributed`).

    The models draw their noise (input dropout, the samples of z) for the whole batch and
    keep the shard's rows, so the processes of a run together draw exactly what one
    process training on the whole batch would.
    """

    start: int
    stop: int
    total: int

    def __post_init__(self):
        if not 0 <= self.start < self.stop <= self.total:
            raise ValueError(f"a shard needs 0 <= start < stop <= total, got rows "
                             f"{self.start}:{self.stop} of {self.total}.")

    def take(self, x: torch.Tensor) -> torch.Tensor:
        """The shard's rows of a batch: a dense tensor, or a coalesced sparse COO tensor
        (whose entries are sorted by row, so the shard's entries lie side by side)."""
        if x.shape[0] != self.total:
            raise ValueError(f"the shard is of a batch of {self.total} users, got {x.shape[0]}.")
        if not x.is_sparse:
            return x[self.start:self.stop]
        x = x.coalesce()
        rows = x.indices()[0]
        bounds = torch.tensor([self.start, self.stop], device=rows.device)
        first, last = torch.searchsorted(rows, bounds).tolist()
        indices = x.indices()[:, first:last].clone()
        indices[0] -= self.start
        return torch.sparse_coo_tensor(indices, x.values()[first:last],
                                       (self.stop - self.start, x.shape[1]),
                                       is_coalesced=True, check_invariants=False)


class _SumOfClickedRows(torch.autograd.Function):
    """h_u = Σ_{i ∈ I_u} x_ui W_i for every user of a batch (an embedding bag), with the
    weight's gradient computed by another embedding bag.

    ∂L/∂W_i = Σ_{u : i ∈ I_u} x_ui ∂L/∂h_u is the same kind of sum, over the *users* who
    clicked item i, of rows of the output's gradient: the clicks sorted by item give each
    item its bag, and the fast forward kernel adds them up. PyTorch's own backward of an
    embedding bag sorts the clicks by the same sort, so its sums run in the same order and
    give the same numbers, but it is slower on the CPU: with it an ML-1M-sized Mult-VAE
    epoch takes 4 % longer in float32 and 12 % longer in bfloat16 (at ML-20M's size the
    difference is within the machine's noise).
    """

    @staticmethod
    def forward(ctx, weight, rows, items, values, offsets):
        ctx.save_for_backward(weight, rows, items, values)
        return F.embedding_bag(items, weight, offsets, mode="sum", per_sample_weights=values)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        weight, rows, items, values = ctx.saved_tensors
        grad_weight = grad_values = None
        if ctx.needs_input_grad[0]:
            by_item = torch.sort(items).indices
            users_per_item = torch.bincount(items, minlength=weight.shape[0])
            grad_weight = F.embedding_bag(
                rows[by_item], grad, torch.cumsum(users_per_item, 0) - users_per_item,
                mode="sum", per_sample_weights=values[by_item].to(grad.dtype)).to(weight.dtype)
        if ctx.needs_input_grad[3]:  # ∂L/∂x_ui = W_i · ∂L/∂h_u
            grad_values = (grad[rows] * weight[items].to(grad.dtype)).sum(-1).to(values.dtype)
        return grad_weight, None, None, grad_values, None


class SparseInputLinear(nn.Module):
    """The encoder's first layer, ``h = x W + b``, for a batch of clicks that stays sparse.

    ``weight`` is stored items × outputs, one row per item: the layer adds up the rows of
    the items a user clicked, each weighted by its (normalised, dropped-out) click value
    (an *embedding bag*). The product reads only the clicked items' rows, so its cost
    grows with the clicks in the batch, not with the number of items, and the weight's
    gradient is zero outside those rows. A dense batch is multiplied as usual. (This is
    the transpose of ``nn.Linear``'s out × in layout, whose rows are the outputs.)
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = nn.Parameter(torch.empty(self.in_features, self.out_features))
        self.bias = nn.Parameter(torch.zeros(self.out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not x.is_sparse:
            return torch.addmm(self.bias, x, self.weight)
        x = x.coalesce()
        rows, items = x.indices()
        per_user = torch.bincount(rows, minlength=x.shape[0])
        offsets = torch.cumsum(per_user, 0) - per_user
        return _SumOfClickedRows.apply(self.weight, rows, items, x.values().to(self.weight.dtype),
                                       offsets) + self.bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"
