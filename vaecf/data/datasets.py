"""One entry point for every dataset the project knows, with the protocol's defaults."""
from __future__ import annotations

from .movielens import MOVIELENS, load_movielens
from .ratings import RatingTable
from .synthetic import SYNTHETIC_SIZES, SyntheticTruth, make_synthetic

__all__ = ["DATASETS", "load_dataset", "default_heldout"]

DATASETS = ("synthetic",) + tuple(MOVIELENS)


def default_heldout(name: str) -> int | float:
    """Validation (and test) users: the paper's 10,000 on ML-20M, 600 on ML-1M, else 10%."""
    _check_name(name)
    return 0.1 if name == "synthetic" else MOVIELENS[name].heldout_users


def _check_name(name):
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; choose one of {', '.join(DATASETS)}.")


def load_dataset(name: str, data_dir=None, path=None, size: str = "small", seed: int = 0,
                 download: bool = True) -> tuple[RatingTable, SyntheticTruth | None]:
    """A rating table and, for synthetic data, its ground truth (else ``None``).

    Args:
        name: ``"synthetic"`` or a MovieLens name (``"ml-100k"``, ``"ml-1m"``, ...).
        size: for synthetic data, one of ``SYNTHETIC_SIZES`` (``"tiny"`` … ``"ml-20m"``).
        seed: for synthetic data, the generator's seed.
    """
    _check_name(name)
    if name == "synthetic":
        if size not in SYNTHETIC_SIZES:
            raise ValueError(f"Unknown synthetic size {size!r}; choose one of "
                             f"{', '.join(SYNTHETIC_SIZES)}.")
        return make_synthetic(seed=seed, **SYNTHETIC_SIZES[size])
    return load_movielens(name, data_dir=data_dir, path=path, download=download), None
