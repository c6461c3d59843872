"""Fixtures shared by the tests: tiny files in the exact upstream MovieLens formats."""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
import scipy.sparse as sp

matplotlib.use("Agg")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# (user, item, rating, timestamp); user 3 rates everything low, user 4 has 4 clicks only.
ROWS = [(u, i, 5 if (u + i) % 3 else 4, 881250949 + u * 100 + i)
        for u in (1, 2, 5, 6, 7, 8, 9, 10) for i in range(1, 11)]
ROWS += [(3, i, 2, 881250000 + i) for i in range(1, 8)]
ROWS += [(4, i, 4, 881250000 + i) for i in range(1, 5)]


def write_u_data(path: Path, rows=ROWS) -> Path:
    path.write_text("".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows))
    return path


def write_ratings_dat(path: Path, rows=ROWS, timestamps=True) -> Path:
    path.write_text("".join(f"{u}::{i}::{r}" + (f"::{t}" if timestamps else "") + "\n"
                            for u, i, r, t in rows))
    return path


def write_ratings_csv(path: Path, rows=ROWS) -> Path:
    path.write_text("userId,movieId,rating,timestamp\n"
                    + "".join(f"{u},{i},{float(r)},{t}\n" for u, i, r, t in rows))
    return path


def click_batch(n_users=6, n_items=30, seed=0) -> sp.csr_matrix:
    """A small random click matrix in which every user clicked item 0."""
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_users, n_items)) < 0.3).astype(np.float32)
    dense[:, 0] = 1
    return sp.csr_matrix(dense)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("real MovieLens copies are not present on this machine")
    return SHARED_DATA
