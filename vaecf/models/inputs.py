"""Getting a batch of users' clicks into a network: sparse tensors, normalisation, dropout."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["csr_to_torch", "normalise_rows", "sparse_dropout", "InputLinear"]


def csr_to_torch(batch, device: torch.device | str = "cpu") -> torch.Tensor:
    """A SciPy CSR batch (users × items) as a coalesced sparse COO float32 tensor."""
    if not sp.issparse(batch):
        raise TypeError(f"expected a SciPy sparse matrix of clicks, got {type(batch).__name__}; "
                        "wrap a dense array with scipy.sparse.csr_matrix(...).")
    coo = batch.tocoo()
    if not np.isfinite(coo.data).all():
        raise ValueError(f"the click matrix holds {int((~np.isfinite(coo.data)).sum())} NaN or "
                         "infinite value(s); clicks must be finite numbers (0/1 or counts).")
    indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    values = torch.from_numpy(coo.data.astype(np.float32))
    tensor = torch.sparse_coo_tensor(indices, values, coo.shape, check_invariants=False)
    return tensor.coalesce().to(device)


def normalise_rows(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Divide each user's row by its L2 norm (an empty row stays zero)."""
    if not x.is_sparse:
        return F.normalize(x, dim=1, eps=eps)
    x = x.coalesce()
    rows = x.indices()[0]
    squares = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    squares.index_add_(0, rows, x.values() ** 2)
    values = x.values() / squares.sqrt().clamp_min(eps)[rows]
    return torch.sparse_coo_tensor(x.indices(), values, x.shape, is_coalesced=True,
                                   check_invariants=False)


def sparse_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Dropout on the clicks: dropping a zero changes nothing, so only stored values are touched."""
    if not training or p == 0:
        return x
    if not x.is_sparse:
        return F.dropout(x, p, training=True)
    x = x.coalesce()
    values = F.dropout(x.values(), p, training=True)
    return torch.sparse_coo_tensor(x.indices(), values, x.shape, is_coalesced=True,
                                   check_invariants=False)


class InputLinear(nn.Linear):
    """A linear layer that accepts a sparse batch without densifying it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_sparse:
            return torch.sparse.mm(x, self.weight.t()) + self.bias
        return super().forward(x)
